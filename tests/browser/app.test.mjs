// Browser tests of the web app, in the system's headless Chromium, against a real api + worker
// started by tests/tests/browser.rs (BASE_URL). The model is the tests' fake OpenAI server:
// "add buy milk tomorrow" makes an add_task call; a message with "story" streams a slow reply.
// A failing test leaves a screenshot in tests/browser/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const WAIT = { timeout: 15000 };
mkdirSync(ARTIFACTS, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => browser?.close());

/** Runs a scenario in a fresh browser context; on failure keeps a screenshot of every page. */
function scenario(name, body, viewport = { width: 1280, height: 800 }) {
  test(name, async () => {
    const context = await browser.newContext({ viewport });
    const errors = [];
    context.on("page", (page) => page.on("pageerror", (e) => errors.push(e.message)));
    try {
      await body(context);
      assert.deepEqual(errors, [], "the page threw");
    } catch (error) {
      const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      for (const [i, page] of context.pages().entries()) {
        await page.screenshot({ path: `${ARTIFACTS}${slug}-${i}.png`, fullPage: true }).catch(() => {});
      }
      throw error;
    } finally {
      await context.close();
    }
  });
}

async function signUp(page) {
  const email = `web-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  await page.goto(BASE);
  await page.getByRole("tab", { name: "Sign up" }).click();
  await page.getByLabel("Name").fill("Web Tester");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor(WAIT);
  await page.locator("#connection.online").waitFor({ state: "attached", ...WAIT });
  return email;
}

async function say(page, text) {
  const input = page.getByLabel("Message");
  await input.fill(text);
  await input.press("Enter");
}

const lastReply = (page) => page.locator(".bubble.assistant").last();
const task = (page, title) => page.locator("#task-list .task", { hasText: title });

scenario("sign up, add a task by chat, see it in the pane, log out", async (context) => {
  const page = await context.newPage();
  const response = await page.goto(BASE);
  const csp = response.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await signUp(page);

  await say(page, "add buy milk tomorrow");
  await lastReply(page).locator(".tool-card", { hasText: "Buy milk" }).waitFor(WAIT);
  await task(page, "Buy milk").waitFor(WAIT);
  assert.match(await task(page, "Buy milk").textContent(), /due/);
  assert.equal(await page.locator("#conversation-list li").count(), 1, "the chat is listed");
  if (process.env.SCREENSHOT) {
    await say(page, "add renew passport");
    await task(page, "Renew passport").waitFor(WAIT);
    await say(page, "tell me a story");
    await lastReply(page).locator(".text", { hasText: "word12" }).waitFor(WAIT);
    await page.screenshot({ path: `${process.env.SCREENSHOT}-desktop.png` });
    await page.getByRole("button", { name: "Stop" }).click();
    await page.locator(".bubble.assistant.stopped").waitFor(WAIT);
  }

  // Tick to complete: it leaves the pending list; it is under Done. (A click, not `check()`:
  // `check()` re-reads the box after clicking, and the ticked task may already have left the list.)
  await task(page, "Buy milk").getByRole("checkbox").click();
  await task(page, "Buy milk").waitFor({ state: "detached", ...WAIT });
  await page.getByLabel("Show").selectOption("completed");
  await task(page, "Buy milk").waitFor(WAIT);

  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("button", { name: "Log in" }).last().waitFor(WAIT);
});

scenario("a reply interrupted by a reload completes on screen", async (context) => {
  const page = await context.newPage();
  await signUp(page);
  await say(page, "tell me a story");
  await lastReply(page).locator(".text", { hasText: "word3" }).waitFor(WAIT);

  await page.reload();

  await page.locator(".bubble.assistant.done", { hasText: "word40 the end" }).waitFor({ timeout: 20000 });
  await page.locator(".bubble.user", { hasText: "tell me a story" }).waitFor(WAIT);
});

scenario("Stop ends a running reply as stopped", async (context) => {
  const page = await context.newPage();
  await signUp(page);
  await say(page, "tell me a long story");
  await lastReply(page).locator(".text", { hasText: "word2" }).waitFor(WAIT);
  const stop = page.getByRole("button", { name: "Stop" });
  await stop.click();
  await page.locator(".bubble.assistant.stopped").waitFor({ timeout: 3000 });
  await stop.waitFor({ state: "hidden", ...WAIT });
  const text = await page.locator(".bubble.assistant.stopped .text").textContent();
  assert.doesNotMatch(text, /the end/, "the reply was cut short");
  // After a reload the conversation shows it as stopped too.
  await page.reload();
  await page.getByRole("button", { name: "tell me a long story", exact: true }).click();
  await page.locator(".bubble.assistant.stopped .badge").waitFor(WAIT);
});

scenario("a second tab and REST changes show up live", async (context) => {
  const first = await context.newPage();
  await signUp(first);
  const second = await context.newPage();
  await second.goto(BASE); // same browser profile: already logged in
  await second.locator("#connection.online").waitFor({ state: "attached", ...WAIT });

  await say(first, "add buy milk tomorrow");
  await task(second, "Buy milk").waitFor(WAIT);

  // A change made elsewhere (REST, as another device would) arrives without a reload.
  const session = await first.evaluate(() => JSON.parse(localStorage.getItem("todo-chat.session")));
  const created = await fetch(`${BASE}/api/${session.user.id}/tasks`, {
    method: "POST",
    headers: { Authorization: `Bearer ${session.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ title: "Renew passport" }),
  });
  assert.equal(created.status, 201);
  await task(first, "Renew passport").waitFor(WAIT);
  await task(second, "Renew passport").waitFor(WAIT);

  // Delete in one tab, gone in the other.
  await task(first, "Renew passport").getByRole("button", { name: /Delete/ }).click();
  await task(second, "Renew passport").waitFor({ state: "detached", ...WAIT });
});

scenario("works at phone width with the keyboard", async (context) => {
  const page = await context.newPage();
  await signUp(page);
  await page.getByLabel("Message").focus();
  await page.keyboard.type("add call the bank");
  await page.keyboard.press("Enter");
  await lastReply(page).locator(".tool-card", { hasText: "call the bank" }).waitFor(WAIT);
  await page.getByRole("button", { name: "Tasks" }).click();
  await task(page, "call the bank").waitFor(WAIT);
  assert.ok(await page.getByLabel("Message").isHidden(), "one pane at a time");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal scrolling (${width}px)`);
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: `${process.env.SCREENSHOT}-phone.png` });
  }
}, { width: 390, height: 800 });

scenario("limits and errors read as sentences, not JSON", async (context) => {
  const page = await context.newPage();
  await page.goto(BASE);
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Log in" }).last().click();
  const error = page.locator("#auth-error");
  await error.waitFor(WAIT);
  const text = await error.textContent();
  assert.match(text, /email or password/i);
  assert.doesNotMatch(text, /[{}"]/);
});

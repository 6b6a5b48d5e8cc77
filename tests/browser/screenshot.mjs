// Takes the README's screenshot of the web app: signs up a user on BASE_URL (a running system,
// e.g. ./scripts/run.sh), has a short chat with the built-in agent, and saves the page.
//   BASE_URL=http://127.0.0.1:8000 node tests/browser/screenshot.mjs docs/images/web-app.png
import { chromium } from "playwright-core";

const base = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const out = process.argv[2] ?? "web-app.png";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
await page.goto(base);
await page.getByRole("tab", { name: "Sign up" }).click();
await page.getByLabel("Name").fill("Sam");
await page.getByLabel("Email").fill(`sam-${Date.now()}@example.com`);
await page.getByLabel("Password").fill("correct horse battery");
await page.getByRole("button", { name: "Create account" }).click();
await page.locator("#connection.online").waitFor({ state: "attached" });
for (const message of [
  "remind me to call mom tomorrow at 5pm",
  "add buy milk #errands",
  "water the plants every monday",
  "what's pending?",
]) {
  const replies = await page.locator(".bubble.assistant.done").count();
  await page.getByLabel("Message").fill(message);
  await page.getByLabel("Message").press("Enter");
  await page.locator(".bubble.assistant.done").nth(replies).waitFor();
}
await page.waitForTimeout(300);
await page.screenshot({ path: out });
await browser.close();
console.log(`saved ${out}`);

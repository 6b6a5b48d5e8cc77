// todo-chat web app: sign up / log in, chat with streamed replies (tool calls as cards, a Stop
// button), conversations (rename, delete), and a task pane kept live by `tasks_changed` frames.
import { Api, ApiError, ChatSocket } from "./api.js";

const $ = (id) => document.getElementById(id);
const api = new Api();

const state = {
  conversationId: null,
  socket: null,
  replies: new Map(), // request_id -> { bubble, text, tools, cmid }
  pendingByCmid: new Map(), // client_msg_id -> bubble (sent, not yet accepted)
  tasks: new Map(), // task id -> task (as shown)
  signup: false,
};

// ---------- small helpers ----------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

let noticeTimer;
function notice(text, kind = "info", seconds = 6) {
  const box = $("notice");
  box.textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, seconds * 1000);
}

/** A polite sentence for an error from the api or the socket (never raw JSON). */
function explain(error) {
  const code = error.code;
  const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : " Try again in a moment.";
  switch (code) {
    case "rate_limited":
      return "You're sending messages quickly." + wait;
    case "too_many_in_flight":
      return "Several replies are still running; wait for one to finish." + wait;
    case "too_many_sockets":
      return "Too many open windows for this account; close one." + wait;
    case "overloaded":
      return "The assistant is busy right now; nothing was lost." + wait;
    case "agent_unavailable":
      return error.message || "The assistant is unavailable right now; your message was saved.";
    case "network":
      return error.message;
    default:
      return error.message || "Something went wrong.";
  }
}

function showError(error) {
  notice(explain(error), "error", 8);
}

// ---------- auth ----------

function setAuthMode(signup) {
  state.signup = signup;
  $("tab-login").setAttribute("aria-selected", String(!signup));
  $("tab-signup").setAttribute("aria-selected", String(signup));
  for (const node of document.querySelectorAll(".signup-only")) node.hidden = !signup;
  $("auth-submit").textContent = signup ? "Create account" : "Log in";
  $("auth-password").autocomplete = signup ? "new-password" : "current-password";
  $("auth-error").hidden = true;
}

async function submitAuth(event) {
  event.preventDefault();
  const email = $("auth-email").value.trim();
  const password = $("auth-password").value;
  const errorBox = $("auth-error");
  errorBox.hidden = true;
  if (!email || !password) {
    errorBox.textContent = "Enter your email and password.";
    errorBox.hidden = false;
    return;
  }
  $("auth-submit").disabled = true;
  try {
    if (state.signup) await api.signup(email, password, $("auth-name").value.trim());
    else await api.login(email, password);
    $("auth-password").value = "";
    await showApp();
  } catch (error) {
    errorBox.textContent = error instanceof ApiError ? explain(error) : String(error);
    errorBox.hidden = false;
  } finally {
    $("auth-submit").disabled = false;
  }
}

function showAuth(message) {
  state.socket?.close();
  state.socket = null;
  $("app-view").hidden = true;
  $("auth-view").hidden = false;
  setAuthMode(false);
  if (message) notice(message, "info");
  $("auth-email").focus();
}

async function logout() {
  try {
    await api.logout();
  } catch {
    api.forget();
  }
  showAuth("You are logged out.");
}

// ---------- app ----------

async function showApp() {
  $("auth-view").hidden = true;
  $("app-view").hidden = false;
  const user = api.session.user;
  $("who").textContent = user.name || user.email;
  state.socket = new ChatSocket(api, {
    onFrame,
    onState: (s, seconds) => {
      const text = { online: "", connecting: "Connecting…", offline: `Offline, retrying in ${seconds} s…` }[s];
      $("connection").textContent = text;
      $("connection").className = `connection ${s}`;
    },
    onSessionEnded: () => {
      api.forget();
      showAuth("Your session ended. Please log in again.");
    },
    onError: showError,
    onReconnected: () => loadTasks(),
  });
  const resumable = state.socket.resumable;
  await Promise.all([loadConversations(), loadTasks()]);
  if (resumable.length > 0) await openConversation(resumable[resumable.length - 1].conversation_id);
  state.socket.connect();
  updateStop();
  $("message-input").focus();
}

// ---------- conversations ----------

async function loadConversations() {
  let conversations;
  try {
    conversations = await api.conversations();
  } catch (error) {
    if (error.status === 401) return showAuth("Your session ended. Please log in again.");
    return showError(error);
  }
  const list = $("conversation-list");
  list.replaceChildren();
  for (const c of conversations) {
    const title = c.title || "Untitled chat";
    const open = el("button", {
      type: "button", class: "conversation-title", text: title,
      "aria-current": c.id === state.conversationId ? "true" : null,
      onclick: () => openConversation(c.id),
    });
    const rename = el("button", {
      type: "button", class: "icon", "aria-label": `Rename “${title}”`, text: "✎",
      onclick: () => renameConversation(c, item),
    });
    const remove = el("button", {
      type: "button", class: "icon danger-text", "aria-label": `Delete “${title}”`, text: "✕",
      onclick: () => deleteConversation(c),
    });
    const item = el("li", { "data-id": c.id }, open, rename, remove);
    list.append(item);
  }
}

function renameConversation(conversation, item) {
  const input = el("input", { value: conversation.title ?? "", "aria-label": "Conversation title", maxlength: "200" });
  const save = async () => {
    const title = input.value.trim();
    if (!title || title === conversation.title) return loadConversations();
    try {
      await api.renameConversation(conversation.id, title);
      if (conversation.id === state.conversationId) $("chat-title").textContent = title;
    } catch (error) {
      showError(error);
    }
    loadConversations();
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); save(); }
    if (e.key === "Escape") loadConversations();
  });
  input.addEventListener("blur", save, { once: true });
  item.replaceChildren(input);
  input.focus();
  input.select();
}

async function deleteConversation(conversation) {
  if (!confirm(`Delete the chat “${conversation.title || "Untitled chat"}”? Your tasks stay.`)) return;
  try {
    await api.deleteConversation(conversation.id);
    if (conversation.id === state.conversationId) newChat();
  } catch (error) {
    showError(error);
  }
  loadConversations();
}

function newChat() {
  state.conversationId = null;
  $("chat-title").textContent = "New chat";
  $("messages").replaceChildren();
  state.replies.clear();
  updateStop();
  showPane("chat");
  $("message-input").focus();
}

async function openConversation(id) {
  let messages;
  try {
    messages = await api.messages(id);
  } catch (error) {
    if (error.status === 404) return newChat();
    return showError(error);
  }
  state.conversationId = id;
  state.replies.clear();
  const list = $("messages");
  list.replaceChildren();
  for (const m of messages) {
    if (m.role === "user") list.append(userBubble(m.content));
    else list.append(assistantBubble(m.content, m.tool_calls, m.stopped ? "stopped" : "done"));
  }
  const item = document.querySelector(`#conversation-list li[data-id="${id}"] .conversation-title`);
  $("chat-title").textContent = item?.textContent ?? "Chat";
  for (const li of document.querySelectorAll("#conversation-list .conversation-title")) {
    li.toggleAttribute("aria-current", li === item);
  }
  // Replies of this conversation still running (after a reload) continue in place.
  for (const r of state.socket?.resumable ?? []) {
    if (r.conversation_id === id) trackReply(r.request_id, null);
  }
  updateStop();
  scrollDown();
  showPane("chat");
}

// ---------- chat ----------

function userBubble(text) {
  return el("li", { class: "bubble user" }, el("p", { text }));
}

function toolCard(call) {
  const r = call.result ?? {};
  const task = r.title ? `#${r.task_id} ${r.title}` : "";
  const due = r.due_text ? ` · due ${r.due_text}` : "";
  const labels = {
    created: `Added ${task}${due}`,
    updated: `Updated ${task}${due}`,
    completed: r.repeated ? `Done ${task}, next ${r.due_text ?? ""}` : `Completed ${task}`,
    reopened: `Re-opened ${task}`,
    deleted: `Deleted ${task}`,
    listed: `Looked at ${r.count} task${r.count === 1 ? "" : "s"}`,
    bulk: `${r.action} ${r.tasks?.length ?? 0} tasks`,
    confirmation_required: `Asks to ${r.action} ${r.tasks?.length ?? 0} tasks`,
    declined: "Left the tasks as they were",
    undone: `Undid ${r.reverted?.length ?? 0} change${r.reverted?.length === 1 ? "" : "s"}`,
    nothing_to_undo: "Nothing to undo",
    error: r.error?.message ?? "Could not do that",
  };
  const label = labels[r.status] ?? call.tool;
  return el("li", { class: `tool-card ${r.status === "error" ? "failed" : ""}`, title: call.tool },
    el("span", { class: "tool-icon", "aria-hidden": "true", text: r.status === "error" ? "!" : "✓" }),
    el("span", { text: label }));
}

function assistantBubble(text, toolCalls = [], status = "done") {
  const tools = el("ul", { class: "tools" });
  for (const call of toolCalls ?? []) tools.append(toolCard(call));
  const body = el("p", { class: "text", text });
  const bubble = el("li", { class: `bubble assistant ${status}` }, tools, body);
  if (status === "stopped") bubble.append(el("span", { class: "badge", text: "stopped" }));
  return bubble;
}

function scrollDown() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

function send(event) {
  event?.preventDefault();
  const input = $("message-input");
  const message = input.value.trim();
  if (!message || !state.socket) return;
  input.value = "";
  $("messages").append(userBubble(message));
  const bubble = assistantBubble("", [], "pending");
  bubble.querySelector(".text").textContent = "…";
  $("messages").append(bubble);
  const cmid = state.socket.chat(message, state.conversationId);
  state.pendingByCmid.set(cmid, bubble);
  scrollDown();
  updateStop();
}

/** Follows a reply in a bubble (a new one unless given). */
function trackReply(requestId, bubble) {
  if (state.replies.has(requestId)) return state.replies.get(requestId);
  const target = bubble ?? assistantBubble("…", [], "pending");
  if (!bubble) $("messages").append(target);
  const reply = { bubble: target, text: "", tools: [] };
  state.replies.set(requestId, reply);
  updateStop();
  return reply;
}

function finishReply(reply, response, toolCalls, status) {
  const fresh = assistantBubble(response, toolCalls, status);
  reply.bubble.replaceWith(fresh);
  reply.bubble = fresh;
}

function onFrame(frame) {
  if (frame.type === "tasks_changed") return applyTaskChanges(frame.tasks, frame.deleted);
  if (frame.type === "pong" || frame.type === "cancel_requested") return;
  if (frame.type === "accepted") {
    const bubble = state.pendingByCmid.get(frame.client_msg_id);
    state.pendingByCmid.delete(frame.client_msg_id);
    const fresh = state.conversationId === null;
    if (fresh || state.conversationId === frame.conversation_id) {
      state.conversationId = frame.conversation_id;
      trackReply(frame.request_id, bubble);
    }
    if (fresh) loadConversations().then(() => {
      const item = document.querySelector(`#conversation-list li[data-id="${frame.conversation_id}"] .conversation-title`);
      if (item) { $("chat-title").textContent = item.textContent; item.setAttribute("aria-current", "true"); }
    });
    return;
  }
  if (frame.type === "error" && !state.replies.has(frame.request_id)) {
    const bubble = state.pendingByCmid.get(frame.client_msg_id);
    state.pendingByCmid.delete(frame.client_msg_id);
    if (bubble) {
      bubble.previousElementSibling?.classList.add("unsent");
      bubble.remove();
    }
    updateStop();
    return showError(frame);
  }
  const reply = state.replies.get(frame.request_id);
  if (!reply) return;
  const text = reply.bubble.querySelector(".text");
  switch (frame.type) {
    case "resumed":
      break;
    case "reset":
      reply.text = "";
      reply.tools = [];
      reply.bubble.querySelector(".tools").replaceChildren();
      text.textContent = "…";
      break;
    case "delta":
      reply.text += frame.text;
      text.textContent = reply.text;
      break;
    case "tool":
      reply.tools.push(frame);
      reply.bubble.querySelector(".tools").append(toolCard(frame));
      break;
    case "done":
      finishReply(reply, frame.response, frame.tool_calls, "done");
      state.replies.delete(frame.request_id);
      break;
    case "cancelled":
      finishReply(reply, frame.response, frame.tool_calls, "stopped");
      state.replies.delete(frame.request_id);
      break;
    case "error":
      finishReply(reply, explain(frame), [], "failed");
      state.replies.delete(frame.request_id);
      break;
    default:
      break;
  }
  updateStop();
  scrollDown();
}

function updateStop() {
  const running = state.replies.size > 0 || state.pendingByCmid.size > 0;
  $("stop").hidden = !running;
}

function stop() {
  for (const requestId of state.replies.keys()) state.socket?.cancel(requestId);
}

// ---------- tasks ----------

function matchesFilter(task) {
  const status = $("filter-status").value;
  const tag = $("filter-tag").value.trim().toLowerCase();
  if (tag && !task.tags.includes(tag)) return false;
  if (status === "pending") return !task.completed;
  if (status === "completed") return task.completed;
  if (status === "overdue") return !task.completed && task.overdue;
  return true;
}

let taskLoad = 0;
async function loadTasks() {
  const mine = ++taskLoad;
  let tasks;
  try {
    tasks = await api.tasks($("filter-status").value, $("filter-tag").value.trim());
  } catch (error) {
    if (error.status === 401) return showAuth("Your session ended. Please log in again.");
    if (error.code === "invalid_tag" || error.status === 422) return notice(explain(error), "error");
    return showError(error);
  }
  if (mine !== taskLoad) return;
  state.tasks = new Map(tasks.map((t) => [t.id, t]));
  renderTasks();
}

function applyTaskChanges(changed, deleted) {
  for (const id of deleted) state.tasks.delete(id);
  for (const task of changed) {
    if (matchesFilter(task)) state.tasks.set(task.id, task);
    else state.tasks.delete(task.id);
  }
  renderTasks();
}

function taskItem(task) {
  const check = el("input", {
    type: "checkbox", id: `task-${task.id}`, checked: task.completed ? "checked" : null,
    "aria-label": `${task.completed ? "Re-open" : "Complete"} “${task.title}”`,
    onchange: async () => {
      try {
        applyTaskChanges([await api.setCompleted(task.id, check.checked)], []);
      } catch (error) {
        check.checked = !check.checked;
        showError(error);
      }
    },
  });
  const title = el("span", { class: "task-title", text: task.title });
  const meta = [];
  if (task.due_text) meta.push(task.overdue ? `overdue · ${task.due_text}` : `due ${task.due_text}`);
  if (task.priority && task.priority !== "none") meta.push(`${task.priority} priority`);
  if (task.repeat_text) meta.push(task.repeat_text);
  for (const tag of task.tags) meta.push(`#${tag}`);
  const details = el("span", { class: `task-meta ${task.overdue ? "overdue" : ""}`, text: meta.join(" · ") });
  const edit = el("button", { type: "button", class: "icon", "aria-label": `Edit “${task.title}”`, text: "✎", onclick: () => editTask(task, item) });
  const remove = el("button", {
    type: "button", class: "icon danger-text", "aria-label": `Delete “${task.title}”`, text: "✕",
    onclick: async () => {
      try {
        await api.deleteTask(task.id);
        applyTaskChanges([], [task.id]);
      } catch (error) {
        showError(error);
      }
    },
  });
  const label = el("label", { for: `task-${task.id}`, class: "task-label" }, title, details);
  const item = el("li", { class: `task ${task.completed ? "done" : ""}`, "data-id": task.id }, check, label, edit, remove);
  return item;
}

function editTask(task, item) {
  const input = el("input", { value: task.title, "aria-label": "Task title", maxlength: "200" });
  let saved = false;
  const save = async () => {
    if (saved) return;
    saved = true;
    const title = input.value.trim();
    if (!title || title === task.title) return renderTasks();
    try {
      applyTaskChanges([await api.updateTask(task.id, { title })], []);
    } catch (error) {
      showError(error);
      renderTasks();
    }
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); save(); }
    if (e.key === "Escape") { saved = true; renderTasks(); }
  });
  input.addEventListener("blur", save);
  item.replaceChildren(input);
  input.focus();
}

function renderTasks() {
  const tasks = [...state.tasks.values()].sort((a, b) =>
    Number(a.completed) - Number(b.completed)
    || (a.due_at ?? "9999").localeCompare(b.due_at ?? "9999")
    || a.id - b.id);
  $("task-list").replaceChildren(...tasks.map(taskItem));
  $("task-empty").hidden = tasks.length > 0;
}

async function quickAdd(event) {
  event.preventDefault();
  const input = $("quick-add-title");
  const title = input.value.trim();
  if (!title) return;
  try {
    applyTaskChanges([await api.addTask(title)], []);
    input.value = "";
  } catch (error) {
    showError(error);
  }
}

// ---------- layout (phone width: one pane at a time) ----------

function showPane(name) {
  for (const button of document.querySelectorAll(".panes-nav button")) {
    button.toggleAttribute("aria-current", button.dataset.pane === name);
  }
  for (const pane of ["conversations", "chat", "tasks"]) {
    $(`${pane}-pane`).classList.toggle("active", pane === name);
  }
}

// ---------- wiring ----------

function init() {
  $("tab-login").addEventListener("click", () => setAuthMode(false));
  $("tab-signup").addEventListener("click", () => setAuthMode(true));
  $("auth-form").addEventListener("submit", submitAuth);
  $("logout").addEventListener("click", logout);
  $("new-chat").addEventListener("click", newChat);
  $("composer").addEventListener("submit", send);
  $("message-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) send(e);
  });
  $("stop").addEventListener("click", stop);
  $("filter-status").addEventListener("change", loadTasks);
  let tagTimer;
  $("filter-tag").addEventListener("input", () => {
    clearTimeout(tagTimer);
    tagTimer = setTimeout(loadTasks, 300);
  });
  $("task-filters").addEventListener("submit", (e) => { e.preventDefault(); loadTasks(); });
  $("quick-add").addEventListener("submit", quickAdd);
  for (const button of document.querySelectorAll(".panes-nav button")) {
    button.addEventListener("click", () => showPane(button.dataset.pane));
  }
  if (api.loggedIn) showApp();
  else {
    api.forget();
    showAuth();
  }
}

init();

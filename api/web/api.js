// The web app's connection to the api: REST calls with the stored token, and the chat socket,
// which reconnects with backoff and resumes every unfinished reply (docs/PROTOCOL.md).

const TOKEN_KEY = "todo-chat.session";
const UNFINISHED_KEY = "todo-chat.unfinished";

/** An error answer of the api: `code` is stable, `message` is for people. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class Api {
  constructor() {
    const saved = localStorage.getItem(TOKEN_KEY);
    this.session = saved ? JSON.parse(saved) : null;
  }

  get loggedIn() {
    return this.session !== null && this.session.expiresAt > Date.now();
  }

  get userId() {
    return this.session?.user.id;
  }

  saveSession(login) {
    this.session = {
      token: login.access_token,
      user: login.user,
      expiresAt: Date.now() + login.expires_in * 1000,
    };
    localStorage.setItem(TOKEN_KEY, JSON.stringify(this.session));
  }

  forget() {
    this.session = null;
    localStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(UNFINISHED_KEY);
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.session) headers.Authorization = `Bearer ${this.session.token}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", "Can't reach the server. Check your connection and try again.");
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const retry = Number(response.headers.get("Retry-After")) || undefined;
      const error = data?.error ?? {};
      throw new ApiError(response.status, error.code ?? "http_" + response.status,
        error.message ?? `The server answered ${response.status}.`, retry);
    }
    return data;
  }

  user(path) {
    return `/api/${this.userId}${path}`;
  }

  async signup(email, password, name) {
    const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    await this.request("POST", "/api/auth/signup", { email, password, name: name || null, timezone });
    return this.login(email, password);
  }

  async login(email, password) {
    this.saveSession(await this.request("POST", "/api/auth/login", { email, password }));
  }

  async logout() {
    try {
      await this.request("POST", "/api/auth/logout");
    } finally {
      this.forget();
    }
  }

  tasks(status, tag) {
    const query = new URLSearchParams({ status: status === "overdue" ? "pending" : status, limit: "100" });
    if (status === "overdue") query.set("due", "overdue");
    if (tag) query.append("tag", tag);
    return this.request("GET", this.user(`/tasks?${query}`));
  }

  addTask(title) {
    return this.request("POST", this.user("/tasks"), { title });
  }

  updateTask(id, changes) {
    return this.request("PATCH", this.user(`/tasks/${id}`), changes);
  }

  setCompleted(id, completed) {
    return this.request("PATCH", this.user(`/tasks/${id}/${completed ? "complete" : "uncomplete"}`));
  }

  deleteTask(id) {
    return this.request("DELETE", this.user(`/tasks/${id}`));
  }

  conversations() {
    return this.request("GET", this.user("/conversations"));
  }

  messages(conversationId) {
    return this.request("GET", this.user(`/conversations/${conversationId}/messages`));
  }

  renameConversation(id, title) {
    return this.request("PATCH", this.user(`/conversations/${id}`), { title });
  }

  deleteConversation(id) {
    return this.request("DELETE", this.user(`/conversations/${id}`));
  }

  cancel(requestId) {
    return this.request("POST", this.user(`/chat/${requestId}/cancel`));
  }
}

/**
 * The chat socket. Replies survive the network: on a drop it reconnects with backoff, sends
 * again every message not yet accepted (same client_msg_id: served once) and resumes every
 * accepted reply that has not finished. Unfinished replies are kept in sessionStorage, so a page
 * reload resumes them too.
 */
export class ChatSocket {
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.socket = null;
    this.attempt = 0;
    this.closed = false;
    this.unsent = new Map(); // client_msg_id -> chat frame
    this.unfinished = new Map(
      JSON.parse(sessionStorage.getItem(UNFINISHED_KEY) ?? "[]").map((r) => [r.request_id, r]),
    );
  }

  /** Replies that were running when the page was (re)loaded. */
  get resumable() {
    return [...this.unfinished.values()];
  }

  persist() {
    sessionStorage.setItem(UNFINISHED_KEY, JSON.stringify([...this.unfinished.values()]));
  }

  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const token = encodeURIComponent(this.api.session.token);
    const socket = new WebSocket(`${scheme}://${location.host}/api/${this.api.userId}/ws?token=${token}`);
    this.socket = socket;
    this.handlers.onState("connecting");
    socket.onopen = () => {
      this.attempt = 0;
      this.handlers.onState("online");
      for (const frame of this.unsent.values()) this.send(frame);
      for (const r of this.unfinished.values()) {
        this.send({ type: "resume", request_id: r.request_id });
      }
      this.handlers.onReconnected?.();
    };
    socket.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === 4001) {
        this.closed = true;
        this.handlers.onSessionEnded(event.reason || "session ended");
        return;
      }
      if (this.closed) return;
      // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … at most 15 s.
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      this.handlers.onState("offline", Math.ceil(delay / 1000));
      setTimeout(() => this.connect(), delay);
    };
  }

  close() {
    this.closed = true;
    this.socket?.close(1000);
  }

  send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  chat(message, conversationId) {
    const clientMsgId = crypto.randomUUID();
    const frame = { type: "chat", message, conversation_id: conversationId ?? null, client_msg_id: clientMsgId };
    this.unsent.set(clientMsgId, frame);
    this.send(frame);
    return clientMsgId;
  }

  cancel(requestId) {
    if (!this.send({ type: "cancel", request_id: requestId })) {
      // Offline: the REST route stops it just the same.
      this.api.cancel(requestId).catch((e) => this.handlers.onError(e));
    }
  }

  receive(frame) {
    switch (frame.type) {
      case "accepted":
        this.unsent.delete(frame.client_msg_id);
        this.unfinished.set(frame.request_id, {
          request_id: frame.request_id,
          conversation_id: frame.conversation_id,
        });
        this.persist();
        break;
      case "done":
      case "cancelled":
        this.unfinished.delete(frame.request_id);
        this.persist();
        break;
      case "error":
        if (frame.client_msg_id) this.unsent.delete(frame.client_msg_id);
        if (frame.request_id) {
          this.unfinished.delete(frame.request_id);
          this.persist();
        }
        break;
      default:
        break;
    }
    this.handlers.onFrame(frame);
  }
}

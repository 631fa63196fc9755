// The live chat page: history from the API, then the chat socket. Each message is
// drawn once, by its sequence number; a message the user sends shows at once as
// pending and becomes sent when the server acknowledges it (its client id). When the
// socket drops, the page reconnects and subscribes after the last sequence it drew, and
// sends again whatever was not acknowledged, with the same client id: nothing is lost
// and nothing shows twice. Read places come with the page and as receipts.

const root = document.getElementById("chat");
const conversation = root.dataset.conversation;
const me = root.dataset.me;
const kind = root.dataset.kind;
const list = document.getElementById("messages");
const statusLine = document.getElementById("chat-status");
const input = document.getElementById("chat-input");
const api = `/api/v1/me/wecom/conversations/${encodeURIComponent(conversation)}`;

const drawn = new Map(); // seq → <li>
const pending = new Map(); // client_id → { frame, li }
const readPlaces = new Map(); // reader → seq
let lastSeq = 0;
let socket = null;
let retryMs = 500;

function setStatus(text, offline) {
  statusLine.textContent = text;
  statusLine.classList.toggle("offline", Boolean(offline));
}

function body(message) {
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  if (message.msgtype === "image" && message.image) {
    const img = document.createElement("img");
    img.src = message.image.url;
    img.alt = "图片 Image";
    img.loading = "lazy";
    bubble.append(img);
  } else if (message.msgtype === "card" && message.card) {
    const link = document.createElement("a");
    link.className = "card-msg";
    link.href = message.card.url;
    const title = document.createElement("strong");
    title.textContent = message.card.title;
    link.append(title);
    if (message.card.description) {
      const about = document.createElement("small");
      about.textContent = message.card.description;
      link.append(about);
    }
    const label = { miniprogram: "小程序 Mini program", channels: "视频号 Channels", pay: "收款 Pay" }[message.card.kind] || message.card.kind;
    const tag = document.createElement("span");
    tag.className = "card-kind";
    tag.textContent = label;
    link.append(tag);
    bubble.append(link);
  } else {
    const object = message[message.msgtype] || {};
    bubble.textContent = object.content ?? object.title ?? `[${message.msgtype}]`;
  }
  return bubble;
}

function item(message, isPending) {
  const li = document.createElement("li");
  const mine = message.sender === me;
  li.className = mine ? "mine" : "theirs";
  if (isPending) li.classList.add("pending");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.sender_name || "";
  li.append(who, body(message));
  if (mine) {
    const receipt = document.createElement("span");
    receipt.className = "receipt";
    receipt.textContent = isPending ? "发送中 Sending" : "";
    li.append(receipt);
  }
  return li;
}

function atBottom() {
  return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
}

function draw(message) {
  if (drawn.has(message.seq)) return;
  const stick = atBottom();
  let li = null;
  if (message.client_id && pending.has(message.client_id) && message.sender === me) {
    li = pending.get(message.client_id).li;
    pending.delete(message.client_id);
    li.classList.remove("pending");
  } else {
    li = item(message, false);
    const later = [...drawn.keys()].filter((seq) => seq > message.seq).sort((a, b) => a - b)[0];
    if (later) list.insertBefore(li, drawn.get(later));
    else list.insertBefore(li, list.querySelector("li.pending"));
  }
  li.dataset.seq = String(message.seq);
  li.id = `message-${message.seq}`;
  drawn.set(message.seq, li);
  lastSeq = Math.max(lastSeq, message.seq);
  updateReceipts();
  if (stick) window.scrollTo(0, document.body.scrollHeight);
}

function updateReceipts() {
  for (const [seq, li] of drawn) {
    const receipt = li.querySelector(".receipt");
    if (!receipt) continue;
    let readers = 0;
    for (const [reader, place] of readPlaces) if (reader !== me && place >= seq) readers += 1;
    if (kind === "group") receipt.textContent = readers ? `${readers} 人已读 read` : "未读 Unread";
    else receipt.textContent = readers ? "已读 Read" : "未读 Unread";
    receipt.classList.toggle("read", readers > 0);
  }
}

function markRead() {
  if (document.visibilityState !== "visible" || !socket || socket.readyState !== WebSocket.OPEN || !lastSeq) return;
  if ((readPlaces.get(me) || 0) >= lastSeq) return;
  readPlaces.set(me, lastSeq);
  socket.send(JSON.stringify({ op: "read", conversation, seq: lastSeq }));
}

function newClientId() {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return `w${Date.now().toString(36)}${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function send(msgtype, object) {
  const clientId = newClientId();
  const frame = { op: "send", conversation, client_id: clientId, msgtype, [msgtype]: object };
  const li = item({ sender: me, msgtype, [msgtype]: object }, true);
  list.append(li);
  pending.set(clientId, { frame, li });
  window.scrollTo(0, document.body.scrollHeight);
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function onFrame(frame) {
  switch (frame.op) {
    case "message":
      if (frame.conversation === conversation) {
        draw(frame);
        markRead();
      }
      break;
    case "ack": {
      const waiting = pending.get(frame.client_id);
      if (waiting) {
        drawn.has(frame.seq) || draw({ ...waiting.frame, seq: frame.seq, sender: me, client_id: frame.client_id });
      }
      break;
    }
    case "read":
      readPlaces.set(frame.reader, Math.max(readPlaces.get(frame.reader) || 0, frame.seq));
      updateReceipts();
      break;
    case "subscribed":
      setStatus("");
      retryMs = 500;
      for (const { frame: waiting } of pending.values()) socket.send(JSON.stringify(waiting));
      markRead();
      break;
    case "left":
    case "closed":
      setStatus("你已不在这个聊天中 You are no longer in this chat", true);
      input.disabled = true;
      break;
    case "error": {
      if (frame.client_id && pending.has(frame.client_id)) {
        const { li } = pending.get(frame.client_id);
        pending.delete(frame.client_id);
        li.querySelector(".receipt").textContent = `未发送 Not sent: ${frame.message}`;
      } else {
        setStatus(frame.message, true);
      }
      break;
    }
    default:
      break;
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/v1/me/wecom/chat`);
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ op: "subscribe", conversation, after: lastSeq }));
  });
  socket.addEventListener("message", (event) => {
    try {
      onFrame(JSON.parse(event.data));
    } catch (error) {
      console.error(error);
    }
  });
  socket.addEventListener("close", () => {
    setStatus("离线，正在重连 Offline, reconnecting…", true);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  });
}

async function start() {
  try {
    const [history, detail] = await Promise.all([
      fetch(`${api}/messages?limit=50`, { credentials: "same-origin" }).then((r) => r.json()),
      fetch(api, { credentials: "same-origin" }).then((r) => r.json()),
    ]);
    for (const [reader, seq] of Object.entries(detail.read || {})) readPlaces.set(reader, seq);
    for (const message of history.messages || []) draw(message);
    window.scrollTo(0, document.body.scrollHeight);
  } catch (error) {
    setStatus("历史消息读取失败 History could not be read", true);
  }
  connect();
}

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send("text", { content: text });
});

document.getElementById("chat-image").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const reply = await fetch(`${api}/images?client_id=${newClientId()}`, { method: "POST", body: file, credentials: "same-origin" });
  if (!reply.ok) setStatus("图片未发送 The image was not sent", true);
  event.target.value = "";
});

document.addEventListener("visibilitychange", markRead);
start();

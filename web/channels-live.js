// Live rooms: a viewer plays the room's WebM stream through Media Source Extensions
// (the init segment, then clusters from a keyframe, then live), reads the chat, likes
// and sends gifts; a host goes live from the camera (MediaRecorder chunks sent over the
// publish socket), sees the chat and counts, pins cards and ends the room.

const MIME = 'video/webm; codecs="vp8,opus"';

function socketUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

async function api(method, path, body) {
  const reply = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  const json = text ? JSON.parse(text) : {};
  if (!reply.ok) throw new Error(json.message || `HTTP ${reply.status}`);
  return json;
}

function yuan(fen) {
  return `¥${(fen / 100).toFixed(2)}`;
}

// The room's events, shared by the viewer's and the host's pages.
function showEvent(event, chat) {
  if (event.op === "comments") {
    for (const item of event.items) showEvent(item, chat);
    return;
  }
  const set = (id, value) => {
    const node = document.getElementById(id);
    if (node) node.textContent = value;
  };
  if (event.op === "comment") {
    if (chat.querySelector(`[data-seq="${event.seq}"]`)) return;
    const item = document.createElement("li");
    item.dataset.seq = event.seq;
    if (event.host) item.classList.add("host");
    if (event.mine) item.classList.add("mine");
    const who = document.createElement("strong");
    who.textContent = event.author_name;
    item.append(who, ` ${event.text}`);
    chat.append(item);
    while (chat.children.length > 60) chat.firstElementChild.remove();
    chat.scrollTop = chat.scrollHeight;
  } else if (event.op === "stats") {
    set("ch-watching", event.watching);
    set("ch-viewers-total", event.viewers_total);
    set("ch-likes", event.likes_total);
  } else if (event.op === "gift") {
    const item = document.createElement("li");
    item.className = "gift";
    item.textContent = `${event.sender_name} 送出 ${event.gift_name || event.gift} × ${event.count}`;
    chat.append(item);
    set("ch-gifts-total", yuan(event.gifts_minor));
  } else if (event.op === "pins") {
    const pins = document.getElementById("ch-pins");
    if (pins) {
      pins.replaceChildren(...event.pins.map((pin) => {
        const link = document.createElement("a");
        link.className = "ch-pin";
        link.href = pin.url;
        const title = document.createElement("strong");
        title.textContent = pin.title;
        link.append(title);
        return link;
      }));
    }
  } else if (event.op === "ended") {
    set("ch-live-state", "直播已结束 This live has ended");
    const figures = event.room;
    if (figures) set("ch-gifts-total", yuan(figures.gifts_minor));
  }
}

// The viewer's page.
function watch(root) {
  const room = root.dataset.room;
  const video = document.getElementById("ch-live-video");
  const chat = document.getElementById("ch-live-chat");
  const state = document.getElementById("ch-live-state");
  let attempts = 0;

  function connect() {
    const source = new MediaSource();
    video.src = URL.createObjectURL(source);
    const queue = [];
    let buffer = null;
    const pump = () => {
      if (!buffer || buffer.updating || !queue.length) return;
      try {
        buffer.appendBuffer(queue.shift());
      } catch (error) {
        console.warn("append", error);
      }
    };
    source.addEventListener("sourceopen", () => {
      buffer = source.addSourceBuffer(MIME);
      buffer.mode = "sequence";
      buffer.addEventListener("updateend", () => {
        // Stay near the live edge.
        if (video.buffered.length) {
          const end = video.buffered.end(video.buffered.length - 1);
          if (end - video.currentTime > 4) video.currentTime = end - 1;
        }
        if (video.paused) video.play().catch(() => {});
        pump();
      });
      pump();
    });
    const socket = new WebSocket(socketUrl(`/api/v1/channels/live/${room}/watch`));
    socket.binaryType = "arraybuffer";
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") {
        queue.push(message.data);
        pump();
        return;
      }
      const event = JSON.parse(message.data);
      if (event.op === "hello") {
        attempts = 0;
        state.textContent = "";
      } else if (event.op === "lagged") {
        socket.close();
      } else if (event.op === "error") {
        state.textContent = event.message;
      } else {
        showEvent(event, chat);
        if (event.op === "ended") socket.onclose = null;
      }
    };
    socket.onclose = () => {
      if (root.dataset.live !== "true" || attempts > 5) return;
      attempts += 1;
      state.textContent = "重新连接中 Reconnecting…";
      setTimeout(connect, 500 * attempts);
    };
    root.socket = socket;
  }

  if (root.dataset.live === "true") connect();
  document.getElementById("ch-unmute")?.addEventListener("click", (event) => {
    video.muted = false;
    event.currentTarget.hidden = true;
  });
  const composer = document.getElementById("ch-live-composer");
  composer?.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = composer.elements.text.value.trim();
    if (!text || !root.socket) return;
    root.socket.send(JSON.stringify({ op: "comment", text }));
    composer.elements.text.value = "";
  });
  document.getElementById("ch-live-like")?.addEventListener("click", () => {
    root.socket?.send(JSON.stringify({ op: "like", count: 1 }));
    const likes = document.getElementById("ch-likes");
    likes.textContent = String(Number(likes.textContent || 0) + 1);
  });
  const giftStatus = document.getElementById("ch-gift-status");
  for (const button of document.querySelectorAll(".ch-gift")) {
    button.addEventListener("click", async () => {
      try {
        const sent = await api("POST", `/api/v1/channels/live/${room}/gifts`, {
          gift: button.dataset.gift,
          count: 1,
          request_id: `g${Date.now()}${Math.random().toString(36).slice(2, 8)}`,
        });
        giftStatus.textContent = `已送出 Sent ${yuan(sent.total_minor)}`;
      } catch (error) {
        giftStatus.textContent = `未送出 Not sent: ${error.message}`;
      }
    });
  }
}

// The host's page.
function host(root) {
  const state = document.getElementById("ch-live-state");
  const preview = document.getElementById("ch-preview");
  const chat = document.getElementById("ch-live-chat");
  const form = document.getElementById("ch-go-live");
  const onAir = document.getElementById("ch-on-air");
  let recorder = null;
  let camera = null;
  let socket = null;

  async function stream(room) {
    camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    preview.srcObject = camera;
    socket = new WebSocket(socketUrl(`/api/v1/channels/live/${room}/publish`));
    socket.binaryType = "arraybuffer";
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      const event = JSON.parse(message.data);
      if (event.op === "error") state.textContent = event.message;
      else showEvent(event, chat);
    };
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    const options = { mimeType: "video/webm;codecs=vp8,opus", videoBitsPerSecond: 800_000, videoKeyFrameIntervalDuration: 1000 };
    recorder = new MediaRecorder(camera, options);
    recorder.ondataavailable = async (event) => {
      if (event.data.size && socket.readyState === WebSocket.OPEN) {
        socket.send(await event.data.arrayBuffer());
      }
    };
    recorder.start(250);
    state.textContent = "直播中 On air";
    root.dataset.room = room;
    form.hidden = true;
    onAir.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const room = await api("POST", "/api/v1/channels/live", { title: form.elements.title.value });
      await stream(room.room_id);
    } catch (error) {
      form.querySelector(".error").textContent = error.message;
    }
  });
  if (root.dataset.room) {
    stream(root.dataset.room).catch((error) => {
      state.textContent = error.message;
    });
  }
  const composer = document.getElementById("ch-live-composer");
  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = composer.elements.text.value.trim();
    if (!text) return;
    await api("POST", `/api/v1/channels/live/${root.dataset.room}/comments`, { text }).catch(() => {});
    composer.elements.text.value = "";
  });
  const pinForm = document.getElementById("ch-pin-form");
  pinForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(pinForm);
    await api("POST", `/api/v1/channels/live/${root.dataset.room}/pins`, {
      kind: data.get("kind"),
      title: data.get("title"),
      url: data.get("url"),
    }).catch((error) => {
      state.textContent = error.message;
    });
  });
  document.getElementById("ch-end").addEventListener("click", async () => {
    recorder?.stop();
    camera?.getTracks().forEach((track) => track.stop());
    await api("POST", `/api/v1/channels/live/${root.dataset.room}/end`).catch(() => {});
    socket?.close();
    state.textContent = "直播已结束 Ended";
    onAir.hidden = true;
  });
}

const viewerRoot = document.getElementById("ch-live");
if (viewerRoot && !viewerRoot.classList.contains("ch-host")) watch(viewerRoot);
const hostRoot = document.getElementById("ch-host");
if (hostRoot) host(hostRoot);

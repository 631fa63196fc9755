// Channels' pages: likes, follows, comments and shares on the feed and post pages, the
// feed's infinite paging, views counted when a video plays, and the creator studio's
// channel form and resumable uploads. Pages are drawn by the server; this adds actions.

const PIECE_BYTES = 1024 * 1024;

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const reply = await fetch(path, init);
  if (reply.status === 401) {
    location.href = `/signin?next=${encodeURIComponent(location.pathname + location.search)}`;
    throw new Error("signed out");
  }
  const text = await reply.text();
  const json = text ? JSON.parse(text) : {};
  if (!reply.ok) {
    throw new Error(json.message || `HTTP ${reply.status}`);
  }
  return json;
}

function toggleButton(button, on, onText, offText) {
  button.setAttribute("aria-pressed", String(on));
  button.classList.toggle("on", on);
  if (onText) {
    button.textContent = on ? onText : offText;
  }
}

// Likes on posts (feed cards and the post page).
document.addEventListener("click", async (event) => {
  const like = event.target.closest(".ch-like");
  if (like) {
    const on = like.getAttribute("aria-pressed") !== "true";
    try {
      const answer = await api(on ? "POST" : "DELETE", `/api/v1/channels/posts/${like.dataset.post}/like`);
      toggleButton(like, on);
      like.firstChild.textContent = on ? "♥ " : "♡ ";
      like.querySelector("span").textContent = answer.likes;
    } catch (error) {
      console.warn(error);
    }
    return;
  }
  const follow = event.target.closest(".ch-follow");
  if (follow) {
    const on = follow.getAttribute("aria-pressed") !== "true";
    try {
      const answer = await api(on ? "POST" : "DELETE", `/api/v1/channels/${follow.dataset.channel}/follow`);
      toggleButton(follow, on, "已关注", "关注 Follow");
      const followers = document.getElementById("ch-followers");
      if (followers) followers.textContent = answer.followers;
    } catch (error) {
      console.warn(error);
    }
    return;
  }
  const commentLike = event.target.closest(".ch-comment-like");
  if (commentLike) {
    const on = !commentLike.classList.contains("on");
    try {
      const answer = await api(on ? "POST" : "DELETE", `/api/v1/channels/comments/${commentLike.dataset.comment}/like`);
      commentLike.classList.toggle("on", on);
      commentLike.firstChild.textContent = on ? "♥ " : "♡ ";
      commentLike.querySelector("span").textContent = answer.likes;
    } catch (error) {
      console.warn(error);
    }
    return;
  }
  const reply = event.target.closest(".ch-reply");
  if (reply) {
    const form = document.getElementById("ch-comment-form");
    form.elements.reply_to.value = reply.dataset.comment;
    form.elements.text.placeholder = `回复 ${reply.dataset.name}`;
    form.elements.text.focus();
  }
});

// Views: counted once per page when a video starts.
const counted = new Set();
document.addEventListener("play", (event) => {
  const video = event.target;
  if (!(video instanceof HTMLVideoElement) || !video.dataset.post) return;
  for (const other of document.querySelectorAll("video.ch-video")) {
    if (other !== video) other.pause();
  }
  if (counted.has(video.dataset.post)) return;
  counted.add(video.dataset.post);
  fetch(`/api/v1/channels/posts/${video.dataset.post}/views`, { method: "POST" })
    .then((reply) => (reply.ok ? reply.json() : null))
    .then((answer) => {
      const views = document.getElementById("ch-views");
      if (answer && views) views.textContent = answer.views;
    })
    .catch(() => {});
}, true);

// The feed's infinite paging: the next page's cards come as HTML from the server.
const more = document.getElementById("ch-more");
if (more) {
  let loading = false;
  const observer = new IntersectionObserver(async (entries) => {
    if (loading || !entries.some((entry) => entry.isIntersecting) || !more.dataset.next) return;
    loading = true;
    try {
      const reply = await fetch(more.dataset.next);
      const html = await reply.text();
      document.getElementById("ch-feed").insertAdjacentHTML("beforeend", html);
      const next = reply.headers.get("x-next-page");
      if (next) {
        more.dataset.next = next;
      } else {
        delete more.dataset.next;
        more.textContent = "没有更多了 That's all";
        observer.disconnect();
      }
    } finally {
      loading = false;
    }
  });
  observer.observe(more);
}

// Comments on the post page.
const commentForm = document.getElementById("ch-comment-form");
if (commentForm) {
  commentForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const post = document.querySelector(".ch-post").dataset.post;
    const text = commentForm.elements.text.value.trim();
    const replyTo = commentForm.elements.reply_to.value || undefined;
    if (!text) return;
    try {
      await api("POST", `/api/v1/channels/posts/${post}/comments`, { text, reply_to: replyTo });
      location.reload();
    } catch (error) {
      commentForm.elements.text.setCustomValidity(error.message);
      commentForm.reportValidity();
      commentForm.elements.text.setCustomValidity("");
    }
  });
}

// Sharing: count the share, then send the card into a WeCom conversation or copy the link.
const share = document.getElementById("ch-share");
if (share) {
  const sheet = document.getElementById("ch-share-sheet");
  const targets = document.getElementById("ch-share-targets");
  const status = document.getElementById("ch-share-status");
  let card = null;
  share.addEventListener("click", async () => {
    try {
      const answer = await api("POST", `/api/v1/channels/posts/${share.dataset.post}/shares`);
      card = answer.card;
      share.querySelector("span").textContent = answer.shares;
    } catch (error) {
      return;
    }
    sheet.showModal();
    targets.replaceChildren();
    try {
      const list = await api("GET", "/api/v1/me/wecom/conversations");
      for (const conversation of list.conversations) {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = conversation.title;
        button.addEventListener("click", async () => {
          try {
            await api("POST", `/api/v1/me/wecom/conversations/${encodeURIComponent(conversation.id)}/messages`, {
              msgtype: "card",
              card,
              client_id: `share-${Date.now()}-${Math.random().toString(36).slice(2)}`,
            });
            status.textContent = `已发送到 ${conversation.title}`;
          } catch (error) {
            status.textContent = `未发送 ${error.message}`;
          }
        });
        item.append(button);
        targets.append(item);
      }
      if (!list.conversations.length) {
        targets.innerHTML = "<li class=\"muted\">没有企业微信会话 No WeCom chats</li>";
      }
    } catch (error) {
      targets.innerHTML = "<li class=\"muted\">没有企业微信会话 No WeCom chats</li>";
    }
  });
  document.getElementById("ch-copy-link").addEventListener("click", async () => {
    const link = new URL(card ? card.url : location.pathname, location.origin).href;
    try {
      await navigator.clipboard.writeText(link);
      status.textContent = "链接已复制 Link copied";
    } catch (error) {
      status.textContent = link;
    }
  });
}

// The studio: open a channel.
const openForm = document.getElementById("ch-open");
if (openForm) {
  openForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(openForm);
    try {
      await api("POST", "/api/v1/channels/me", {
        name: data.get("name"),
        bio: data.get("bio"),
        area: data.get("area"),
      });
      location.reload();
    } catch (error) {
      openForm.querySelector(".error").textContent = error.message;
    }
  });
}

// One file uploaded in pieces; after a failed piece it asks where the upload stands and
// goes on from there (three tries per piece).
async function uploadFile(file, purpose, onProgress) {
  const upload = await api("POST", "/api/v1/channels/uploads", { purpose, size: file.size });
  let offset = 0;
  let failures = 0;
  while (offset < file.size) {
    const piece = file.slice(offset, offset + PIECE_BYTES);
    const reply = await fetch(`/api/v1/channels/uploads/${upload.upload_id}?offset=${offset}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: piece,
    }).catch(() => null);
    if (reply && reply.ok) {
      offset = (await reply.json()).received;
      failures = 0;
      onProgress(offset);
      continue;
    }
    if (reply && reply.status < 500 && reply.status !== 409) {
      throw new Error((await reply.json()).message);
    }
    failures += 1;
    if (failures > 3) throw new Error("上传中断 The upload keeps failing");
    offset = (await api("GET", `/api/v1/channels/uploads/${upload.upload_id}`)).received;
  }
  return upload.upload_id;
}

const uploadForm = document.getElementById("ch-upload");
if (uploadForm) {
  const progress = document.getElementById("ch-progress");
  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = [...uploadForm.elements.files.files];
    const total = files.reduce((sum, file) => sum + file.size, 0);
    const error = uploadForm.querySelector(".error");
    error.textContent = "";
    progress.hidden = false;
    progress.value = 0;
    uploadForm.querySelector("button").disabled = true;
    try {
      const uploads = [];
      let done = 0;
      for (const file of files) {
        const purpose = file.type.startsWith("video/") ? "video" : "image";
        const before = done;
        uploads.push(await uploadFile(file, purpose, (sent) => {
          progress.value = (before + sent) / total;
        }));
        done += file.size;
      }
      await api("POST", "/api/v1/channels/posts", { uploads, caption: uploadForm.elements.caption.value });
      location.reload();
    } catch (failure) {
      error.textContent = failure.message;
      uploadForm.querySelector("button").disabled = false;
    }
  });
}

// The studio refreshes while a post is processing (a minute at most).
if (document.querySelector("#ch-posts tr[data-state=processing]")) {
  const started = Number(sessionStorage.getItem("ch-waiting") || Date.now());
  sessionStorage.setItem("ch-waiting", String(started));
  if (Date.now() - started < 60_000) {
    setTimeout(() => location.reload(), 2_000);
  }
} else {
  sessionStorage.removeItem("ch-waiting");
}

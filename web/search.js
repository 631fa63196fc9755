// The search page: suggestions as you type (words, full pinyin, initials) and the
// infinite paging of one section. The results themselves are drawn by the server.

const form = document.getElementById("sr-form");
const input = document.getElementById("sr-q");
const list = document.getElementById("sr-suggestions");

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const SECTION_NAMES = {
  services: "服务", mini_programs: "小程序", creators: "视频号", posts: "动态", merchants: "商户", corps: "企业",
};

if (form && input && list) {
  let asked = 0;
  let timer = null;
  const hide = () => { list.hidden = true; list.innerHTML = ""; };
  const ask = async () => {
    const q = input.value.trim();
    const mine = ++asked;
    if (!q) { hide(); return; }
    try {
      const reply = await fetch(`/api/v1/search/suggest?q=${encodeURIComponent(q)}`);
      if (!reply.ok || mine !== asked) return;
      const { suggestions } = await reply.json();
      if (mine !== asked) return;
      if (!suggestions.length) { hide(); return; }
      list.innerHTML = suggestions.map((s) =>
        `<li role="option"><a class="sr-suggestion" href="/app/search?q=${encodeURIComponent(s.text)}">` +
        `<span>${escapeHtml(s.text)}</span><small>${SECTION_NAMES[s.section] || ""}</small></a></li>`).join("");
      list.hidden = false;
    } catch {
      hide();
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });
  input.addEventListener("keydown", (event) => {
    const links = [...list.querySelectorAll("a")];
    if (list.hidden || !links.length) return;
    const at = links.findIndex((a) => a.classList.contains("active"));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = event.key === "ArrowDown" ? (at + 1) % links.length : (at - 1 + links.length) % links.length;
      links.forEach((a, i) => a.classList.toggle("active", i === next));
    } else if (event.key === "Enter" && at >= 0) {
      event.preventDefault();
      location.href = links[at].href;
    } else if (event.key === "Escape") {
      hide();
    }
  });
  document.addEventListener("click", (event) => {
    if (!form.contains(event.target)) hide();
  });
  // Opened from a tab's bar with text already typed: put the caret at its end.
  if (input.value) input.setSelectionRange(input.value.length, input.value.length);
}

// One section's infinite paging.
const more = document.getElementById("sr-more");
if (more) {
  let loading = false;
  const target = document.getElementById(more.dataset.list);
  const observer = new IntersectionObserver(async (entries) => {
    if (loading || !entries.some((entry) => entry.isIntersecting) || !more.dataset.next) return;
    loading = true;
    try {
      const reply = await fetch(more.dataset.next);
      target.insertAdjacentHTML("beforeend", await reply.text());
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

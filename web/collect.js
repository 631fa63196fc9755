// The collecting user's page: open a code, or watch payments arrive live (server-sent
// events from /api/v1/me/collection-code/events) with today's totals.
import { answerOf, explain, yuan } from "/static/pin.js";

const openForm = document.querySelector("#open-code");
openForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const reply = await fetch("/api/v1/me/collection-code", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: document.querySelector("#code-name-input").value }),
  });
  if (reply.ok) {
    location.reload();
  } else {
    document.querySelector("#open-error").textContent = explain(await answerOf(reply));
  }
});

const received = document.querySelector("#received");
const live = document.querySelector("#live");

function row(payment) {
  const item = document.createElement("li");
  item.className = "payment";
  const who = document.createElement("span");
  const time = (payment.paid_at || "").slice(11, 19);
  who.innerHTML = "<strong></strong><br><span class=\"muted\"></span>";
  who.querySelector("strong").textContent = payment.note;
  who.querySelector(".muted").textContent = (payment.payer || "") + " · " + time;
  const amount = document.createElement("span");
  amount.className = "plus";
  amount.textContent = "+¥" + yuan(payment.amount);
  item.append(who, amount);
  return item;
}

async function reload() {
  const reply = await fetch("/api/v1/me/collection-code");
  if (!reply.ok) return;
  const today = (await reply.json()).today;
  document.querySelector("#today-count").textContent = today.payments;
  document.querySelector("#today-total").textContent = "¥" + yuan(today.total);
  document.querySelector("#today-net").textContent = "¥" + yuan(today.net);
  received.replaceChildren(...today.received.map(row));
  document.querySelector("#none-yet").hidden = today.received.length > 0;
}

if (received) {
  const events = new EventSource("/api/v1/me/collection-code/events");
  events.addEventListener("open", () => {
    live.textContent = "Live — new payments appear here as they are made.";
    live.classList.add("on");
  });
  events.addEventListener("error", () => {
    live.textContent = "Reconnecting…";
    live.classList.remove("on");
  });
  events.addEventListener("payment", (event) => {
    const payment = JSON.parse(event.data);
    const item = row(payment);
    item.classList.add("new");
    received.prepend(item);
    document.querySelector("#none-yet").hidden = true;
    reload().then(() => received.firstElementChild?.classList.add("new"));
  });
  events.addEventListener("reload", reload);
}

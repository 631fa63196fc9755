// The merchant demo: create a Native order, show its QR code, and watch it get paid.
import { answerOf, explain, parseYuan, yuan } from "/static/pin.js";

const form = document.querySelector("#new-order");
const shown = document.querySelector("#order");
let watching = null;

async function watch(outTradeNo) {
  const reply = await fetch("/merchant/orders/" + encodeURIComponent(outTradeNo));
  if (!reply.ok) return;
  const order = await reply.json();
  const status = shown.querySelector(".status");
  status.textContent = order.trade_state_desc;
  status.className = "status " + order.trade_state;
  if (order.trade_state !== "NOTPAY") {
    clearInterval(watching);
    shown.querySelector(".paid-note").hidden = order.trade_state !== "SUCCESS";
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = form.querySelector(".error");
  error.textContent = "";
  const total = parseYuan(form.amount.value);
  if (!total) {
    error.textContent = "请输入金额 Enter an amount such as 12.00";
    return;
  }
  const reply = await fetch("/merchant/orders", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      description: form.description.value,
      total,
    }),
  });
  const order = await answerOf(reply);
  if (!reply.ok) {
    error.textContent = explain(order);
    return;
  }
  shown.querySelector(".qr").innerHTML = order.qr_svg;
  shown.querySelector(".code-url").textContent = order.code_url;
  shown.querySelector(".checkout-link").href = order.checkout_url;
  shown.querySelector(".order-no").textContent = order.out_trade_no;
  shown.querySelector(".order-amount").textContent = "¥" + yuan(order.total);
  shown.querySelector(".paid-note").hidden = true;
  shown.hidden = false;
  clearInterval(watching);
  watching = setInterval(() => watch(order.out_trade_no), 1000);
  watch(order.out_trade_no);
});

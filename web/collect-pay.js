// Paying someone's collection code: amount, note, password; POST /api/v1/pay/collect.
// The page draws one reference when it loads, so pressing Pay twice pays once.
import { answerOf, explain, parseYuan, pinInput, yuan } from "/static/pin.js";

const form = document.querySelector("#collect");
const amountInput = document.querySelector("#amount-input");
const error = document.querySelector("#error");
const payButton = document.querySelector("#pay");
const clientRef = [...crypto.getRandomValues(new Uint8Array(16))]
  .map((byte) => byte.toString(16).padStart(2, "0"))
  .join("");

function refresh() {
  const fen = parseYuan(amountInput.value);
  payButton.textContent = fen ? "Pay ¥" + yuan(fen) : "Pay";
  payButton.disabled = !fen || pin.password().length !== 6;
}
const pin = pinInput([...document.querySelectorAll(".pin input")], refresh);
amountInput.addEventListener("input", refresh);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const amount = parseYuan(amountInput.value);
  if (!amount) {
    error.textContent = "请输入金额 Enter an amount such as 12.50";
    return;
  }
  payButton.disabled = true;
  error.textContent = "";
  const reply = await fetch("/api/v1/pay/collect", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      token: form.dataset.token,
      amount,
      note: document.querySelector("#note").value,
      password: pin.password(),
      client_ref: clientRef,
    }),
  });
  const answer = await answerOf(reply);
  if (reply.ok) {
    document.querySelector("#paying").hidden = true;
    const done = document.querySelector("#done");
    done.querySelector(".paid-amount").textContent = "¥" + yuan(answer.amount);
    done.querySelector(".paid-merchant").textContent = answer.merchant_name;
    done.querySelector(".paid-transaction").textContent = answer.transaction_id;
    done.querySelector(".paid-balance").textContent = "¥" + yuan(answer.balance);
    done.hidden = false;
    return;
  }
  error.textContent = explain(answer);
  pin.clear();
});

// The payer's checkout: six password boxes, then POST /api/v1/pay/confirm with the
// session cookie, and the result in place.
import { answerOf, explain, pinInput, yuan } from "/static/pin.js";

const form = document.querySelector("#checkout");
const error = document.querySelector("#error");
const payButton = document.querySelector("#pay");
const pin = pinInput([...document.querySelectorAll(".pin input")], (password) => {
  payButton.disabled = password.length !== 6;
});

// A coupon, when one applies: the best is chosen; the payer may pick another or none.
const coupon = document.querySelector("#coupon");
function showDue() {
  if (!coupon || !form) return;
  const discount = Number(coupon.selectedOptions[0].dataset.amount);
  payButton.textContent = "Pay ¥" + yuan(Number(form.dataset.total) - discount);
}
coupon?.addEventListener("change", showDue);
showDue();

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  payButton.disabled = true;
  error.textContent = "";
  const body = { password: pin.password() };
  body[form.dataset.refKind] = form.dataset.ref;
  if (coupon) body.coupon_id = coupon.value;
  const reply = await fetch("/api/v1/pay/confirm", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await answerOf(reply);
  if (reply.ok) {
    document.querySelector("#paying").hidden = true;
    const done = document.querySelector("#done");
    done.querySelector(".paid-amount").textContent = "¥" + yuan(answer.payer_total);
    done.querySelector(".paid-merchant").textContent = answer.merchant_name;
    done.querySelector(".paid-total").textContent = "¥" + yuan(answer.total);
    if (answer.coupon) {
      done.querySelector(".paid-saving").textContent = "−¥" + yuan(answer.coupon.amount) + " " + answer.coupon.name;
      done.querySelector(".paid-saving-row").hidden = false;
    }
    done.querySelector(".paid-transaction").textContent = answer.transaction_id;
    done.querySelector(".paid-balance").textContent = "¥" + yuan(answer.balance);
    done.hidden = false;
    document.querySelector("#done-button").focus();
    return;
  }
  error.textContent = explain(answer);
  pin.clear();
  if (answer.code === "order_not_payable" || answer.code === "password_locked") {
    form.querySelectorAll("input, button").forEach((element) => (element.disabled = true));
  }
});

// The payer's checkout: six password boxes, then POST /api/v1/pay/confirm with the
// session cookie, and the result in place.
const form = document.querySelector("#checkout");
const boxes = [...document.querySelectorAll(".pin input")];
const error = document.querySelector("#error");
const payButton = document.querySelector("#pay");

function password() {
  return boxes.map((box) => box.value).join("");
}

boxes.forEach((box, index) => {
  box.addEventListener("input", () => {
    box.value = box.value.replace(/\D/g, "").slice(0, 1);
    if (box.value && index < boxes.length - 1) boxes[index + 1].focus();
    payButton.disabled = password().length !== 6;
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Backspace" && !box.value && index > 0) boxes[index - 1].focus();
  });
});

function yuan(fen) {
  return (fen / 100).toFixed(2);
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  payButton.disabled = true;
  error.textContent = "";
  const body = { password: password() };
  body[form.dataset.refKind] = form.dataset.ref;
  const reply = await fetch("/api/v1/pay/confirm", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await reply.json();
  if (reply.ok) {
    document.querySelector("#paying").hidden = true;
    const done = document.querySelector("#done");
    done.querySelector(".paid-amount").textContent = "¥" + yuan(answer.total);
    done.querySelector(".paid-merchant").textContent = answer.merchant_name;
    done.querySelector(".paid-transaction").textContent = answer.transaction_id;
    done.querySelector(".paid-balance").textContent = "¥" + yuan(answer.balance);
    done.hidden = false;
    return;
  }
  error.textContent = answer.message;
  boxes.forEach((box) => (box.value = ""));
  boxes[0].focus();
  if (answer.code === "order_not_payable" || answer.code === "password_locked") {
    form.querySelectorAll("input, button").forEach((element) => (element.disabled = true));
  }
});

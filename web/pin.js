// Six one-digit password boxes that move focus as digits are typed; `onChange` hears the
// password (possibly incomplete) after every keystroke.
export function pinInput(boxes, onChange) {
  const password = () => boxes.map((box) => box.value).join("");
  boxes.forEach((box, index) => {
    box.addEventListener("input", () => {
      box.value = box.value.replace(/\D/g, "").slice(0, 1);
      if (box.value && index < boxes.length - 1) boxes[index + 1].focus();
      onChange(password());
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Backspace" && !box.value && index > 0) boxes[index - 1].focus();
    });
  });
  return {
    password,
    clear() {
      boxes.forEach((box) => (box.value = ""));
      boxes[0].focus();
      onChange("");
    },
  };
}

// 12.34 from 1234 fen.
export function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  return sign + Math.floor(abs / 100) + "." + String(abs % 100).padStart(2, "0");
}

// Fen from "12.34" (at most two decimals), or null: integer arithmetic only.
export function parseYuan(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{0,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

// What a person reads for an error answer of /api/v1: domain refusals already speak the
// payer's terms; codes whose message is for developers (a field's path, a parser's words)
// get a plain sentence instead, so no raw parser text reaches a page.
const PLAIN = {
  invalid_json: "请检查输入 Something in the form is not right; check it and try again.",
  invalid_field: "请检查输入 Something in the form is not right; check it and try again.",
  invalid_query: "请检查输入 Something in the form is not right; check it and try again.",
  body_too_large: "内容过长 What was sent is too long.",
  unauthorized: "请先登录 Your sign-in has ended; sign in again.",
  cross_site_request: "请求被拒绝 Open Plaza itself and try again.",
  busy: "系统繁忙 Plaza is busy; try again in a moment.",
  request_timeout: "系统繁忙 Plaza is busy; try again in a moment.",
  store_unavailable: "系统繁忙 Plaza is busy; try again in a moment.",
  record_conflict: "系统繁忙 Plaza is busy; try again in a moment.",
  internal: "出错了 Something went wrong on Plaza's side.",
};
export function explain(answer) {
  return PLAIN[answer?.code] || answer?.message || PLAIN.internal;
}

// The error answer of a failed fetch, or a stand-in when the body is not JSON.
export async function answerOf(reply) {
  try {
    return await reply.json();
  } catch {
    return { code: "internal" };
  }
}

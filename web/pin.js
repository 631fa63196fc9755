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

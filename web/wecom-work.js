// The workbench: a member writes to one of the corp's apps; the corp's server hears it
// on its callback as a text message from the member.

for (const form of document.querySelectorAll("form.to-app")) {
  const status = form.querySelector(".to-app-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const corpid = encodeURIComponent(form.dataset.corpid);
    const agentid = encodeURIComponent(data.get("agentid"));
    status.textContent = "发送中 Sending…";
    try {
      const reply = await fetch(`/api/v1/me/wecom/${corpid}/apps/${agentid}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content: data.get("content") }),
      });
      const body = await reply.json();
      if (reply.ok) {
        status.textContent = "已发送 Sent";
        form.querySelector("input[name=content]").value = "";
      } else {
        status.textContent = `未发送 Not sent: ${body.message || reply.status}`;
      }
    } catch (error) {
      status.textContent = `未发送 Not sent: ${error}`;
    }
  });
}

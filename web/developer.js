// The developer console's package upload: the zip goes to the JSON API as the request
// body (the same call a deploy script makes), then the page reloads with what happened.
const form = document.getElementById('upload');
if (form) {
  const state = document.getElementById('upload-state');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = document.getElementById('package').files[0];
    if (!file) return;
    const version = document.getElementById('user-version').value.trim() || '1.0.0';
    state.textContent = 'Uploading…';
    const response = await fetch(
      `/api/v1/me/miniapps/${form.dataset.appid}/versions?user_version=${encodeURIComponent(version)}`,
      { method: 'POST', headers: { 'content-type': 'application/zip' }, body: file, credentials: 'same-origin' },
    );
    const answer = await response.json().catch(() => ({}));
    const text = response.ok ? `Uploaded as v${answer.version}.` : (answer.message || `Refused (${response.status}).`);
    const key = response.ok ? 'ok' : 'error';
    window.location.href = `${window.location.pathname}?${key}=${encodeURIComponent(text)}`;
  });
}

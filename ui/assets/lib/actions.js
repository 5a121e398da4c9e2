// Buttons that act. Pages draw them only for a role that may act (every
// one of them has data-action), so that a viewer sees none that would fail.

import {api} from './api.js';
import {h} from './dom.js';

// actionButton is a button that runs act; confirm asks for a second click
// within 4 s before it does.
export function actionButton(name, text, act, confirm = false) {
  let armed = null;
  const b = h('button', {type: 'button', class: 'action' + (confirm ? ' risky' : ''), 'data-action': name}, text);
  const disarm = () => { clearTimeout(armed); armed = null; b.textContent = text; b.classList.remove('armed'); };
  b.addEventListener('click', async () => {
    if (confirm && !armed) {
      b.textContent = `Confirm: ${text.toLowerCase()}?`;
      b.classList.add('armed');
      armed = setTimeout(disarm, 4000);
      return;
    }
    disarm();
    b.disabled = true;
    try { await act(b); } finally { b.disabled = false; }
  });
  return b;
}

// cancelable reports whether a job can still be canceled.
export const cancelable = (job) => ['queued', 'running', 'retrying'].includes(job.state);

// cancelButton cancels job id (after a second click), then calls done with
// the job; a refusal is said on the button.
export function cancelButton(id, done) {
  return actionButton('cancel', 'Cancel', async (b) => {
    try {
      done(await api(`v1/jobs/${encodeURIComponent(id)}/cancel`, {method: 'POST'}));
    } catch (e) {
      b.title = e.message;
      b.classList.add('refused');
    }
  }, true);
}

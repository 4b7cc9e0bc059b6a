// A flag's page: "Start the action from this" copies a suggestion into the action form, where the leader
// edits it. Without scripts the form's own "Start from a suggestion" choice does the same on submit.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.use-suggestion")) {
    button.addEventListener("click", () => {
      const prefix = button.dataset.form;
      const select = document.getElementById(`id_${prefix}-suggestion`);
      const what = document.getElementById(`id_${prefix}-what`);
      if (!select || !what) return;
      select.value = button.dataset.suggestion;
      what.value = button.dataset.what;
      what.focus();
    });
  }
});

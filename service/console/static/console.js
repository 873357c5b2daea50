// After a form round trip, move keyboard and screen-reader focus to what changed:
// the error summary if there is one, else the new preview. No other script is needed.
document.addEventListener("DOMContentLoaded", () => {
  const target = document.getElementById("error-summary") || document.getElementById("result-heading");
  if (target) target.focus();
});

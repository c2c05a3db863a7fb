// The self-scheduling page shows times in the candidate's own zone: detected on first visit,
// and changeable with the select (the page reloads with ?tz=).
const select = document.querySelector("select[data-detect-timezone]");
if (select && !new URLSearchParams(location.search).has("tz")) {
  const detected = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (detected && [...select.options].some((o) => o.value === detected) && detected !== select.value) {
    const url = new URL(location.href);
    url.searchParams.set("tz", detected);
    location.replace(url);
  }
}

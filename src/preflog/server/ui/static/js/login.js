// The sign-in page: focus the key field (the page works without JavaScript too).
document.getElementById("api_key")?.focus();
document.body.setAttribute("data-ready", "1");

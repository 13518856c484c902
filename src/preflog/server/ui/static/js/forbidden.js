document.body.setAttribute("data-ready", "1");

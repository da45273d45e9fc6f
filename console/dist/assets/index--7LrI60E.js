const e=document.getElementById("app");e&&(e.textContent="hookrelay console");

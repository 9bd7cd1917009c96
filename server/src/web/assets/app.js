// Small helpers; every page works without them.
(function () {
  // Photo viewer: ← and → go to the previous and next photo.
  var prev = document.querySelector('a[rel=prev]'), next = document.querySelector('a[rel=next]');
  if (prev || next) {
    document.addEventListener('keydown', function (e) {
      if (e.target.closest && e.target.closest('input, textarea, select')) return;
      if (e.key === 'ArrowLeft' && prev) location.href = prev.href;
      if (e.key === 'ArrowRight' && next) location.href = next.href;
    });
  }
  // Job list on a phone: the filters start folded unless some are set.
  var box = document.querySelector('details.filter-box');
  if (box && box.dataset.active === '0' && window.matchMedia('(max-width: 720px)').matches) {
    box.open = false;
  }
  // Review form: one more finding field.
  var add = document.getElementById('add-finding');
  if (add) {
    add.hidden = false;
    add.addEventListener('click', function () {
      var list = document.getElementById('findings');
      var input = list.querySelector('input').cloneNode();
      input.value = '';
      list.appendChild(input);
      input.focus();
    });
  }
  // Receipts: the print button (hidden without script: the browser's own print works).
  var print = document.querySelector('button[data-print]');
  if (print) {
    print.hidden = false;
    print.addEventListener('click', function () { window.print(); });
  }
})();

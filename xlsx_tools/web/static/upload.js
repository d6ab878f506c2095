// Drop files (or folders, or a .zip) on the page: each is sent to POST /api/files as it comes,
// three at a time, and its verdict is shown as soon as the server has recorded it.
(function () {
  "use strict";
  var drop = document.getElementById("drop");
  if (!drop) { return; }
  var input = document.getElementById("file-input");
  var panel = document.getElementById("upload");
  var list = document.getElementById("upload-list");
  var summary = document.getElementById("upload-summary");
  var countsLine = document.getElementById("upload-counts");
  var bar = document.getElementById("upload-bar");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  // The statuses' words and looks, as the server says them (catalogue.toml's [statuses]).
  var STATUSES = JSON.parse(drop.getAttribute("data-statuses"));
  var CLASS = STATUSES["class"];
  var AT_ONCE = 3;
  var queue = [], running = 0, total = 0, done = 0, failed = [], bytesTotal = 0, bytesDone = {};
  var tally = {}, batch = null, refreshTimer = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function pill(status) { return el("span", "pill st-" + (CLASS[status] || "wait"), status); }

  function sizeText(n) {
    return n < 1024 * 1024 ? Math.max(1, Math.round(n / 1024)) + " KB" : (n / 1048576).toFixed(1) + " MB";
  }

  var FAILED_UPLOAD = "上传失败";
  var ORDER = STATUSES.order.concat([FAILED_UPLOAD]);

  // What the answers change is drawn at most five times a second: the first answer at once,
  // those that come within the next 200 ms together. With hundreds of files coming back,
  // drawing on every answer would keep the browser busy repainting the page.
  var drawing = [], drawTimer = null, lastDraw = 0;
  function draw() {
    drawTimer = null;
    lastDraw = Date.now();
    drawing.splice(0).forEach(function (job) { job(); });
    showCounts();
  }
  function later(job) {
    if (job) { drawing.push(job); }
    if (drawTimer !== null) { return; }
    var wait = 200 - (Date.now() - lastDraw);
    if (wait <= 0) { draw(); } else { drawTimer = setTimeout(draw, wait); }
  }
  function scheduleCounts() { later(null); }

  function showCounts() {
    var parts = [];
    ORDER.forEach(function (k) { if (tally[k]) { parts.push(k + " " + tally[k]); } });
    countsLine.textContent = parts.length ? parts.join("，") : "";
    var loaded = 0;
    Object.keys(bytesDone).forEach(function (k) { loaded += bytesDone[k]; });
    bar.value = bytesTotal ? Math.min(1, loaded / bytesTotal) : 0;
    if (done < total) {
      summary.textContent = "正在接收：已完成 " + done + " / " + total + " 个文件";
    } else {
      summary.textContent = "已收到 " + total + " 个文件" + (failed.length ? "，其中 " + failed.length + " 个上传失败" : "") + "。";
      bar.value = 1;
    }
  }

  function describe(entry) {
    var v = entry.version;
    if (!v) { return entry.reason || ""; }
    if (v.repeat) { return entry.receipt && entry.receipt.note ? entry.receipt.note : "与之前收到的文件相同"; }
    if (entry.reason) { return entry.reason; }
    if (!v.errors && !v.warnings) { return ""; }
    return "错误 " + v.errors + " 项，警告 " + v.warnings + " 项";
  }

  function showEntries(row, entries) {
    // A .zip answers for each file in it: one line each, after the archive's own.
    var rows = [row];
    for (var i = 1; i < entries.length; i++) {
      var li = el("li");
      rows[i - 1].parentNode.insertBefore(li, rows[i - 1].nextSibling);
      rows.push(li);
    }
    entries.forEach(function (entry, i) {
      var target = rows[i];
      target.textContent = "";
      var status = entry.version ? entry.version.round_status : STATUSES.unreadable;
      tally[status] = (tally[status] || 0) + 1;
      target.className = CLASS[status] === "ok" ? "ok" : "problem";
      target.appendChild(pill(status));
      target.appendChild(document.createTextNode(" "));
      target.appendChild(el("span", "name", entry.file));
      var unit = entry.version && entry.version.unit;
      if (unit) {
        var a = el("a", "", unit.unit + "（" + unit.batch + "）");
        a.href = "/units/" + unit.id;
        target.appendChild(document.createTextNode(" → "));
        target.appendChild(a);
      } else if (entry.version) {
        target.appendChild(el("span", "why", "未能对应到名单中的单位"));
      }
      var why = describe(entry);
      if (unit && unit.status === STATUSES.to_confirm) {     // this file left its unit to confirm
        why = (why ? why + "；" : "") + "单位现为" + STATUSES.to_confirm;
      }
      target.appendChild(el("span", "why", why));
    });
  }

  function uploading(item, percent) {
    item.row.textContent = "";
    item.row.appendChild(pill("正在上传"));
    item.row.appendChild(document.createTextNode(" "));
    item.row.appendChild(el("span", "name", item.file.name));
    item.row.appendChild(el("span", "why", percent + "%"));
  }

  function send(item) {
    running += 1;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/files?batch=" + encodeURIComponent(batch));
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = function (e) {
      bytesDone[item.id] = e.loaded;
      // A large file shows how far it has gone; a small one is answered before that would be seen.
      if (item.file.size > 1048576 && e.total) {
        later(function () { if (!item.answered) { uploading(item, Math.floor(100 * e.loaded / e.total)); } });
      } else {
        scheduleCounts();
      }
    };
    xhr.onload = function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      item.answered = true;
      if (answer && answer.files && answer.files.length) {
        later(function () { showEntries(item.row, answer.files); });
      } else {
        fail(item, answer && answer.error ? answer.error : "服务器没有收下这个文件（" + xhr.status + "）。");
      }
      finish(item);
    };
    xhr.onerror = function () {
      item.answered = true;
      fail(item, "上传失败：连接中断。请确认服务仍在运行后重新拖入这个文件。");
      finish(item);
    };
    var data = new FormData();
    data.append("mtime", String(item.file.lastModified || ""));
    data.append("file", item.file, item.file.name);
    xhr.send(data);
  }

  function fail(item, why) {
    failed.push(item.file);
    tally[FAILED_UPLOAD] = (tally[FAILED_UPLOAD] || 0) + 1;
    item.row.className = "problem";
    item.row.textContent = "";
    item.row.appendChild(pill(FAILED_UPLOAD));
    item.row.lastChild.className = "pill st-bad";
    item.row.appendChild(document.createTextNode(" "));
    item.row.appendChild(el("span", "name", item.file.name));
    item.row.appendChild(el("span", "why", why));
  }

  function finish(item) {
    running -= 1;
    done += 1;
    bytesDone[item.id] = item.file.size;
    next();
    if (done === total) {          // the last answer: draw everything now, then the table
      if (drawTimer !== null) { clearTimeout(drawTimer); }
      draw();
      refreshTable();
    } else {
      scheduleCounts();
    }
  }

  function next() {
    while (running < AT_ONCE && queue.length) { send(queue.shift()); }
  }

  function refreshTable() {
    var section = document.getElementById("units-section");
    return fetch(location.href, {headers: {"Accept": "text/html"}}).then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("units-section");
        if (fresh && section) { section.innerHTML = fresh.innerHTML; }
      }).catch(function () { /* the table stays as it was; a reload shows it */ });
  }

  function start(files) {
    files = Array.prototype.slice.call(files);
    if (!files.length) { return; }
    if (done === total) {     // a new drop after the last one finished: a new receiving
      batch = Math.random().toString(36).slice(2) + Date.now().toString(36);
      queue = []; total = 0; done = 0; failed = []; bytesTotal = 0; bytesDone = {}; tally = {};
      lastDraw = 0;
      list.textContent = "";
      list.classList.remove("long");
    }
    panel.hidden = false;
    if (total + files.length > 8) { list.classList.add("long"); }   // a fixed height: the page below stays put
    files.forEach(function (f) {
      var row = el("li");
      row.appendChild(pill("等待"));
      row.appendChild(document.createTextNode(" "));
      row.appendChild(el("span", "name", f.name));
      row.appendChild(el("span", "why", sizeText(f.size)));
      list.appendChild(row);
      total += 1;
      bytesTotal += f.size;
      queue.push({file: f, row: row, id: total});
    });
    showCounts();
    if (!refreshTimer) {
      refreshTimer = setInterval(function () {
        if (done === total) { clearInterval(refreshTimer); refreshTimer = null; } else { refreshTable(); }
      }, 15000);
    }
    next();
  }

  // A dropped folder is walked (in browsers that can: Chrome, Edge, Firefox, Safari).
  function walk(entry, out) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (f) { out.push(f); resolve(); }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader(), all = [];
        var read = function () {
          reader.readEntries(function (batchOf) {
            if (!batchOf.length) {
              Promise.all(all.map(function (e) { return walk(e, out); })).then(resolve);
            } else { all = all.concat(Array.prototype.slice.call(batchOf)); read(); }
          }, function () { resolve(); });
        };
        read();
      } else { resolve(); }
    });
  }

  drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    drop.classList.remove("over");
    var items = e.dataTransfer.items;
    var entries = [];
    if (items && items.length && items[0].webkitGetAsEntry) {
      for (var i = 0; i < items.length; i++) {
        var entry = items[i].webkitGetAsEntry();
        if (entry) { entries.push(entry); }
      }
    }
    if (entries.length && entries.some(function (x) { return x.isDirectory; })) {
      var out = [];
      Promise.all(entries.map(function (x) { return walk(x, out); })).then(function () { start(out); });
    } else {
      start(e.dataTransfer.files);
    }
  });
  drop.addEventListener("click", function (e) { if (e.target === drop) { input.click(); } });
  drop.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { input.click(); } });
  input.addEventListener("change", function () { start(input.files); input.value = ""; });
  document.getElementById("only-problems").addEventListener("change", function (e) {
    list.classList.toggle("only-problems", e.target.checked);
  });
  // Dropping beside the box must not open the file in the browser instead.
  window.addEventListener("dragover", function (e) { e.preventDefault(); });
  window.addEventListener("drop", function (e) { e.preventDefault(); });
})();

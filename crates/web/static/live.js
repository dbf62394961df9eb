// The live Startmaske (issue #17): one EventSource per tab on /ereignisse. A Vorgang given to me
// appears as a row at the top of the open list, with a notice and the count in the tab's title;
// a Vorgang taken from me leaves the lists; the counts of the filter tabs follow. Everything
// inserted is text (textContent), never HTML. Without this script the page works with reloads.
(function () {
  'use strict';
  if (!window.EventSource || !document.getElementById('filter')) {
    return;
  }
  var title = document.title;
  // New since the page was loaded (the notice), and since the tab was last looked at (the title).
  var fresh = 0;
  var unseen = 0;
  var notice = document.getElementById('live-notice');

  function cell(text, titleText) {
    var td = document.createElement('td');
    td.textContent = text;
    if (titleText) {
      td.title = titleText;
    }
    return td;
  }

  // The list „Offen“ shows new ones; the other filters keep their lists.
  function openList() {
    var tab = document.getElementById('filter-offen');
    var page = /(?:^|[?&])seite=(\d+)/.exec(window.location.search);
    if (!tab || !tab.classList.contains('current') || (page && page[1] !== '1')) {
      return null;
    }
    var table = document.getElementById('cases');
    if (table) {
      return table;
    }
    table = document.createElement('table');
    table.id = 'cases';
    table.className = 'list sticky-first';
    var head = document.createElement('tr');
    ['Status', 'Eingang', 'Absender', 'Betreff', 'Anhänge'].forEach(function (h) {
      var th = document.createElement('th');
      th.textContent = h;
      head.appendChild(th);
    });
    table.appendChild(head);
    var empty = document.querySelector('main p.empty');
    var pager = document.querySelector('main p.pager');
    if (empty) {
      empty.parentNode.replaceChild(table, empty);
    } else if (pager) {
      pager.parentNode.insertBefore(table, pager);
    }
    return table;
  }

  function addRow(d) {
    var table = openList();
    if (!table || table.querySelector('a[href="/vorgang/' + d.case_id + '"]')) {
      return;
    }
    var row = d.row;
    var tr = document.createElement('tr');
    tr.className = row.status_class + ' new';
    var status = document.createElement('td');
    var tag = document.createElement('span');
    tag.className = 'tag-new';
    tag.textContent = 'neu';
    status.appendChild(tag);
    status.appendChild(document.createTextNode(' ' + row.status));
    tr.appendChild(status);
    tr.appendChild(cell(row.received));
    tr.appendChild(cell(row.from, row.from_addr));
    var subject = document.createElement('td');
    var link = document.createElement('a');
    link.href = d.href;
    link.textContent = row.subject;
    subject.appendChild(link);
    tr.appendChild(subject);
    tr.appendChild(cell(String(row.attachments)));
    var head = table.querySelector('tr');
    table.insertBefore(tr, head ? head.nextSibling : table.firstChild);
  }

  // A row of the lists: its link to the Vorgang, or (the waiting ones, without a link) its mark.
  function rowsOf(caseId) {
    var rows = [];
    var links = document.querySelectorAll('main a[href="/vorgang/' + caseId + '"]');
    for (var i = 0; i < links.length; i++) {
      var tr = links[i].closest('tr');
      if (tr) {
        rows.push(tr);
      }
    }
    var marked = document.querySelectorAll('main tr[data-case="' + caseId + '"]');
    for (var j = 0; j < marked.length; j++) {
      rows.push(marked[j]);
    }
    return rows;
  }

  function removeRows(caseId) {
    rowsOf(caseId).forEach(function (tr) {
      if (tr.parentNode) {
        tr.parentNode.removeChild(tr);
      }
    });
  }

  function setCounts(counts) {
    Object.keys(counts || {}).forEach(function (code) {
      var a = document.getElementById('filter-' + code);
      if (a) {
        a.textContent = a.textContent.replace(/\(\d+\)\s*$/, '(' + counts[code] + ')');
      }
    });
  }

  function showFresh() {
    if (notice) {
      notice.textContent = fresh === 1 ? '1 neuer Vorgang' : fresh + ' neue Vorgänge';
      notice.hidden = false;
    }
    document.title = '(' + unseen + ') ' + title;
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) {
      unseen = 0;
      document.title = title;
    }
  });

  var source = new EventSource('/ereignisse');
  source.addEventListener('vorgang', function (message) {
    var d;
    try {
      d = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    setCounts(d.counts);
    if (d.kind === 'new' || d.kind === 'waiting') {
      addRow(d);
      fresh += 1;
      unseen += 1;
      showFresh();
    } else if (d.kind === 'gone') {
      removeRows(d.case_id);
    }
  });
  source.addEventListener('reload', function () {
    source.close();
    window.location.reload();
  });
})();

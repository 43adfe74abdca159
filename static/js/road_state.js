/* The road as the tablet knows it: the last state it had from the server (kept in IndexedDB,
   the newer of that and the page's own) with the tablet's queued writes laid over it, in their
   order. The road page draws only this, so a reload with no network shows every finding the
   inspector made, sent or not. Findings are keyed by the ids the tablet made for them. */
window.RoadState = (function () {
  "use strict";
  const CLIENT_ID = /^[A-Za-z0-9_.:-]{8,128}$/;

  function key(month, code) { return "road:" + month + "/" + code; }

  /* The newest of the page's data and the remembered one (by the server's `as_of`). */
  async function newest(month, code, fromPage) {
    let kept = null;
    try { kept = await Outbox.recall(key(month, code)); } catch (e) { kept = null; }
    if (kept && (!fromPage || kept.as_of > fromPage.as_of)) { return kept; }
    if (fromPage) { Outbox.remember(key(month, code), fromPage).catch(function () {}); }
    return fromPage || kept;
  }

  async function keep(data) {
    const previous = await Outbox.recall(key(data.month, data.road.properties.code)).catch(function () { return null; });
    if (!previous || previous.as_of <= data.as_of) { await Outbox.remember(key(data.month, data.road.properties.code), data); }
  }

  function fromServer(feature) {
    const p = feature.properties;
    return { cid: p.client_id, id: p.id, rule: p.rule, count: p.count, area_m2: p.area_m2, deadline: p.deadline,
             note: p.note, observed_at: p.observed_at, lon: feature.geometry.coordinates[0],
             lat: feature.geometry.coordinates[1], mine: p.mine, by: p.by,
             photos: (p.photos || []).map(function (photo) { return { id: photo.id, thumb: photo.thumb, url: photo.url }; }),
             writes: [], deleted: false };
  }

  const FIELDS = ["rule", "count", "area_m2", "deadline", "note", "lon", "lat", "observed_at"];

  /* {findings: [...], waiting, refused, submitting} from the server's data and the writes. */
  function view(data, writes) {
    const byCid = new Map(), order = [];
    data.findings.features.forEach(function (f) {
      const finding = fromServer(f);
      const cid = finding.cid || ("id:" + finding.id);
      finding.cid = cid;
      byCid.set(cid, finding); order.push(cid);
    });
    let submitting = null;
    writes.forEach(function (w) {
      const about = w.about || {};
      if (about.kind === "submit") { submitting = w; return; }
      let finding = byCid.get(about.finding);
      if (about.kind === "create") {
        if (!finding) {   // the server may have it already (sent, and the page not yet refreshed)
          finding = { cid: about.finding, id: null, mine: true, photos: [], writes: [], deleted: false };
          byCid.set(about.finding, finding); order.push(about.finding);
        }
        FIELDS.forEach(function (k) { if (k in w.body) { finding[k] = w.body[k]; } });
      } else if (!finding) {
        return;   // a write for a finding this state does not show (another road): counted, not drawn
      } else if (about.kind === "edit") {
        FIELDS.forEach(function (k) { if (k in w.body) { finding[k] = w.body[k]; } });
      } else if (about.kind === "delete") {
        finding.deleted = true;
      } else if (about.kind === "photo") {
        if (!finding.photos.some(function (p) { return p.cid === about.photo; })) {
          finding.photos.push({ cid: about.photo, blob: w.form.files.photo, pending: true });
        }
      } else if (about.kind === "unphoto") {
        finding.photos = finding.photos.filter(function (p) {
          return !(p.id && p.id === about.photo_id) && !(p.cid && p.cid === about.photo);
        });
      }
      finding.writes.push(w);
    });
    const findings = order.map(function (cid) { return byCid.get(cid); });
    findings.forEach(function (f) {
      const refused = f.writes.find(function (w) { return w.state === "refused"; });
      f.state = refused ? "refused" : (f.writes.length ? "waiting" : "saved");
      f.refused = refused ? refused.refused : null;
    });
    return { findings: findings, submitting: submitting,
             waiting: writes.filter(function (w) { return w.state !== "refused"; }).length,
             refused: writes.filter(function (w) { return w.state === "refused"; }).length };
  }

  /* Where a write about this finding goes: by the tablet's id (known before the server has it). */
  function findingUrl(finding) {
    return finding.cid.indexOf("id:") !== 0 && CLIENT_ID.test(finding.cid) ? "/api/findings/client/" + encodeURIComponent(finding.cid)
      : "/api/findings/" + finding.id;
  }

  function photoUrl(photo) {
    return photo.id ? "/api/photos/" + photo.id : "/api/photos/client/" + encodeURIComponent(photo.cid);
  }

  return { key: key, newest: newest, keep: keep, view: view, findingUrl: findingUrl, photoUrl: photoUrl };
})();

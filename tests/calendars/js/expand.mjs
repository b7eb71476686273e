// Expand every event of an iCalendar file with ical.js (the parser Thunderbird uses) and print
// the occurrences as JSON lines, so the Python tests can compare them with the database.
//
//   node tests/calendars/js/expand.mjs FROM_ISO TO_ISO < feed.ics
//
// Output: one JSON array of {uid, recurrenceId, start, end, status, summary}, instants in UTC ISO.
import ICAL from "ical.js";

const [from, to] = process.argv.slice(2).map((s) => ICAL.Time.fromJSDate(new Date(s), true));
let input = "";
for await (const chunk of process.stdin) input += chunk;

const root = new ICAL.Component(ICAL.parse(input));
for (const vtz of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtz));
}

const byUid = new Map();
for (const vevent of root.getAllSubcomponents("vevent")) {
  const uid = vevent.getFirstPropertyValue("uid");
  const entry = byUid.get(uid) ?? { master: null, exceptions: [], singles: [] };
  if (vevent.hasProperty("recurrence-id")) entry.exceptions.push(vevent);
  else entry.master = vevent;
  byUid.set(uid, entry);
}

const iso = (t) => t.toJSDate().toISOString();
const out = [];
for (const [uid, { master, exceptions }] of byUid) {
  if (!master) throw new Error(`no master for ${uid}`);
  // Relate this UID's own exceptions (by default ical.js would take every RECURRENCE-ID in the file).
  const event = new ICAL.Event(master, { strictExceptions: true, exceptions });
  const summaryOf = (e) => e.summary;
  const statusOf = (e) => (e.component.getFirstPropertyValue("status") || "CONFIRMED");
  if (!event.isRecurring()) {
    if (event.endDate.compare(from) > 0 && event.startDate.compare(to) < 0) {
      out.push({ uid, recurrenceId: null, start: iso(event.startDate), end: iso(event.endDate),
                 status: statusOf(event), summary: summaryOf(event) });
    }
    continue;
  }
  const it = event.iterator();
  for (let next = it.next(); next; next = it.next()) {
    if (next.compare(to) >= 0) break;
    const details = event.getOccurrenceDetails(next);
    if (details.endDate.compare(from) <= 0) continue;
    out.push({ uid, recurrenceId: iso(details.recurrenceId), start: iso(details.startDate),
               end: iso(details.endDate), status: statusOf(details.item), summary: summaryOf(details.item) });
  }
}
process.stdout.write(JSON.stringify(out));

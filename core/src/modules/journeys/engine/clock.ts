/** Local wall-clock arithmetic in IANA time zones, safe across daylight-saving changes. */

/** Whether `zone` names a time zone this runtime knows (an IANA name such as Europe/Zurich). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A profile's `timezone` trait when it names a real zone, else UTC. */
export function zoneOrUtc(zone: string | null | undefined): string {
  return zone && isTimeZone(zone) ? zone : 'UTC';
}

/** The zone's offset from UTC at `instant`, in milliseconds (Europe/Zurich in summer: +2 h). */
export function zoneOffset(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The local calendar date of `instant` in the zone. */
export function localDate(instant: Date, timeZone: string): { year: number; month: number; day: number } {
  const shifted = new Date(instant.getTime() + zoneOffset(instant, timeZone));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/**
 * The instant the zone's clocks show `hh:mm` on the given local date. A time the clocks skip
 * (02:30 on a spring-forward night) moves on by the gap (03:30), as calendars do; a time they show
 * twice (autumn) is the first of the two.
 */
export function atLocalTime(
  date: { year: number; month: number; day: number },
  time: string,
  timeZone: string,
): Date {
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  const wall = Date.UTC(date.year, date.month - 1, date.day, hour, minute);
  // Try the offsets in force a day either side: one of them is right for this wall time.
  const candidates = [
    zoneOffset(new Date(wall - 86_400_000), timeZone),
    zoneOffset(new Date(wall + 86_400_000), timeZone),
  ];
  const valid = candidates
    .map((offset) => new Date(wall - offset))
    .filter((instant) => zoneOffset(instant, timeZone) === wall - instant.getTime())
    .sort((a, b) => a.getTime() - b.getTime());
  if (valid[0]) return valid[0];
  // In the gap: read the wall time with the offset from before the jump, i.e. shift it by the gap.
  return new Date(wall - Math.min(...candidates));
}

/** The next instant after `now` at which the zone's clocks show `hh:mm`. */
export function nextLocalTime(now: Date, time: string, timeZone: string): Date {
  const today = localDate(now, timeZone);
  const candidate = atLocalTime(today, time, timeZone);
  if (candidate > now) return candidate;
  const tomorrow = new Date(Date.UTC(today.year, today.month - 1, today.day + 1));
  return atLocalTime(
    { year: tomorrow.getUTCFullYear(), month: tomorrow.getUTCMonth() + 1, day: tomorrow.getUTCDate() },
    time,
    timeZone,
  );
}

/** Whether the local time of `now` lies in [start, end), where the window may cross midnight. */
export function inLocalWindow(now: Date, start: string, end: string, timeZone: string): boolean {
  const shifted = new Date(now.getTime() + zoneOffset(now, timeZone));
  const minutes = shifted.getUTCHours() * 60 + shifted.getUTCMinutes();
  const toMinutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
  const [from, to] = [toMinutes(start), toMinutes(end)];
  return from <= to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
}

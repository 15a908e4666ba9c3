/**
 * Calendar dates (`YYYY-MM-DD`) in the platform's time zone. License windows are days, and a day
 * starts at midnight where the licensing authority is (Asia/Shanghai by default), not in UTC.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

export function calendarDate(now: Date, timeZone: string): string {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // en-CA formats dates as YYYY-MM-DD.
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, formatter);
  }
  return formatter.format(now);
}

/**
 * `calendarDate` for a clock, recomputed at most once per second of clock time: every request asks
 * for today's date, and Intl formatting showed up in the read path's profile.
 */
export function todayFor(clock: () => Date, timeZone: string): () => string {
  let second = Number.NaN;
  let date = '';
  return () => {
    const now = clock();
    const current = Math.floor(now.getTime() / 1000);
    if (current !== second) {
      second = current;
      date = calendarDate(now, timeZone);
    }
    return date;
  };
}

/** The date `years` calendar years after `date`; 29 February rolls to 1 March. */
export function addYears(date: string, years: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y + years, m - 1, d)).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

const DATE_SHAPE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `text` is written `YYYY-MM-DD` (says nothing of whether that day exists). */
export function looksLikeCalendarDate(text: string): boolean {
  return DATE_SHAPE.test(text);
}

/**
 * Why a `YYYY-MM-DD` names no day of the (proleptic Gregorian) calendar, or undefined when it does:
 * "2026-02-30 does not exist: February 2026 has 28 days".
 */
export function calendarDateProblem(date: string): string | undefined {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  if (m < 1 || m > 12) return `${date} does not exist: there is no month ${m}`;
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  const last = new Date(0);
  last.setUTCFullYear(y, m, 0);
  const days = last.getUTCDate();
  if (d < 1 || d > days) return `${date} does not exist: ${MONTHS[m - 1]} ${y} has ${days} days`;
  return undefined;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** How far the zone's wall clock is ahead of UTC at `instant` (ms; +8 h for Asia/Shanghai). */
function zoneOffsetMs(instant: number, timeZone: string): number {
  let formatter = offsetFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    offsetFormatters.set(timeZone, formatter);
  }
  const part = Object.fromEntries(formatter.formatToParts(instant).map((p) => [p.type, Number(p.value)]));
  const wall = new Date(0);
  wall.setUTCFullYear(part.year!, part.month! - 1, part.day!);
  wall.setUTCHours(part.hour!, part.minute!, part.second!, 0);
  return wall.getTime() - (instant - (((instant % 1000) + 1000) % 1000));
}

/**
 * The first instant of calendar day `date` (an existing `YYYY-MM-DD`) in `timeZone`: 2026-11-30 in
 * Asia/Shanghai starts at 2026-11-29T16:00:00.000Z. Twice round the offset, for zones whose offset
 * changes near midnight.
 */
export function startOfDay(date: string, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const utcMidnight = new Date(0);
  utcMidnight.setUTCFullYear(y, m - 1, d);
  const guess = utcMidnight.getTime() - zoneOffsetMs(utcMidnight.getTime(), timeZone);
  return new Date(utcMidnight.getTime() - zoneOffsetMs(guess, timeZone));
}

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

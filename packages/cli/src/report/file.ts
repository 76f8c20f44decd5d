/** Default file name of a run's report, inside the run folder. */
export const REPORT_FILE = 'report.html';

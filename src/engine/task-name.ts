/** Task names: safe in URLs, metrics labels, file names and SQL values. */
export const TASK_NAME = /^[a-z0-9][a-z0-9._-]*$/;

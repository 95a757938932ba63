// What the server rendered into the page: the page to show, the caller and what they may do, URLs, CSRF.
const node = document.getElementById("mlops-boot");
export const boot = node ? JSON.parse(node.textContent) : { perms: {}, ids: {}, api: "", pages: "" };
export const perms = boot.perms || {};

export function pageUrl(path) {
  return boot.pages + path;
}

/** May the caller change this workflow? The API applies the same owner rule. */
export function mayEdit(workflow) {
  if (!perms.edit_workflows) return false;
  return perms.manage_all_workflows || !workflow || workflow.created_by === boot.user;
}

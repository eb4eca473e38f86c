// A route only some posts may open: the menu hides it from the others, and this guard turns away a clerk
// who types its address anyway (the API would refuse every call on it).
import type { NavigationGuard } from 'vue-router'
import { ElMessage } from 'element-plus'
import { clerk, hasRole, loadClerk } from './api'
import type { StaffRole } from './feature'

export function onlyFor(roles: readonly StaffRole[]): NavigationGuard {
  return async () => {
    if (!clerk.account) await loadClerk().catch(() => null)
    if (!clerk.account || hasRole(roles)) return true // not known: the page shows the API's own refusal
    ElMessage.warning({ message: '您的岗位无权办理此项业务', showClose: true })
    return { name: 'workbench' }
  }
}

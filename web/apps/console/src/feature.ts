// How a feature joins the console: its routes, and its entries in the side menu with the roles that may
// open them. Each folder under features/ exports one `Feature` from index.ts, found by glob.
import type { RouteRecordRaw } from 'vue-router'

/** Staff roles as identity issues them. A post sees only the menu entries its roles allow. */
export type StaffRole = 'clerk.intake' | 'clerk.review' | 'clerk.archive' | 'clerk.admin'

export interface MenuEntry {
  title: string
  to: string
  /** the menu group it sits in */
  group: '业务受理' | '号牌管理' | '检验管理' | '驾驶证' | '违法处理' | '系统'
  roles: StaffRole[]
  order: number
}

export interface Feature {
  routes: RouteRecordRaw[]
  menu?: MenuEntry[]
}

const modules = import.meta.glob<{ default: Feature }>('./features/*/index.ts', { eager: true })
export const features: Feature[] = Object.values(modules).map((m) => m.default)

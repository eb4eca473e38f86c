// How a feature joins the app: its routes, and the tiles it puts on the home page. Each folder under
// features/ exports one `Feature` from index.ts; the router and the home page find them all by glob, so
// adding a feature touches no shared file.
import type { RouteRecordRaw } from 'vue-router'

export interface Tile {
  title: string
  /** a Vant icon name */
  icon: string
  to: string
  /** ID-07: the tile shows only when the account has this capability; none = every signed-in person */
  capability?: string
  /** position on the home page, small first */
  order: number
}

export interface Feature {
  routes: RouteRecordRaw[]
  tiles?: Tile[]
}

const modules = import.meta.glob<{ default: Feature }>('./features/*/index.ts', { eager: true })
export const features: Feature[] = Object.values(modules).map((m) => m.default)

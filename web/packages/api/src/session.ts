// Where an app keeps its tokens. The access token is short-lived; the refresh token rotates on use.
export interface Tokens {
  access_token: string
  refresh_token?: string | null
  expires_in: number
}

export interface Session {
  accessToken: string
  refreshToken: string | null
  /** epoch ms after which the access token is refreshed before use */
  expiresAt: number
}

type Listener = (session: Session | null) => void

export class SessionStore {
  private current: Session | null
  private readonly listeners = new Set<Listener>()

  constructor(
    private readonly key: string,
    private readonly storage: Storage | null,
  ) {
    this.current = this.load()
  }

  get(): Session | null {
    return this.current
  }

  set(tokens: Tokens | null): void {
    this.current = tokens
      ? {
          accessToken: tokens.access_token,
          refreshToken: tokens.refresh_token ?? null,
          // refresh 30 s early so that a request never leaves with a token about to expire
          expiresAt: Date.now() + Math.max(0, tokens.expires_in - 30) * 1000,
        }
      : null
    if (this.storage) {
      if (this.current) this.storage.setItem(this.key, JSON.stringify(this.current))
      else this.storage.removeItem(this.key)
    }
    for (const listener of this.listeners) listener(this.current)
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private load(): Session | null {
    const raw = this.storage?.getItem(this.key)
    if (!raw) return null
    try {
      return JSON.parse(raw) as Session
    } catch {
      return null
    }
  }
}

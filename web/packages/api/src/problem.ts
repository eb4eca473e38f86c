// An RFC 9457 problem as the platform answers it, and the error the client throws for one.
import reasons from './reasons.json'

export interface Problem {
  type?: string
  title?: string
  status: number
  detail?: string
  code: string
  rule?: string
  request_id?: string
  retry_after_s?: number
  [extension: string]: unknown
}

const REASONS: Record<string, string> = reasons

/** A refusal or failure of one call: `message` is what a person reads (plain Chinese), `code` and
 * `rule` stay for logic and support, `detail` is the server's own words. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly rule: string | undefined
  readonly detail: string
  /** Seconds the server asked us to wait (Retry-After), when it did. */
  readonly retryAfter: number | null
  readonly problem: Problem

  constructor(problem: Problem, retryAfter: number | null) {
    super(reasonFor(problem))
    this.name = 'ApiError'
    this.problem = problem
    this.status = problem.status
    this.code = problem.code
    this.rule = problem.rule
    this.detail = problem.detail ?? problem.title ?? problem.code
    this.retryAfter = retryAfter ?? problem.retry_after_s ?? null
  }
}

/** The Chinese reason for a problem: the code's sentence, else the server's detail, marked with the
 * rule that decided it so that a clerk on the phone can look it up. */
export function reasonFor(problem: Problem): string {
  const text = REASONS[problem.code] ?? problem.detail ?? problem.title ?? '请求未能完成'
  return problem.rule ? `${text}（${problem.rule}）` : text
}

/** What a screen tells a person about a failed call: the reason, and the wait the server asked for. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    return error.retryAfter ? `${error.message}，请 ${error.retryAfter} 秒后再试` : error.message
  }
  return '操作未能完成，请稍后再试'
}

export function networkError(cause: unknown): ApiError {
  const error = new ApiError(
    { status: 0, code: 'NETWORK', detail: cause instanceof Error ? cause.message : String(cause) },
    null,
  )
  return error
}

export function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds)
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}

export async function problemOf(response: Response): Promise<Problem> {
  const type = response.headers.get('content-type') ?? ''
  if (type.includes('json')) {
    try {
      const body = (await response.clone().json()) as Partial<Problem>
      if (body && typeof body === 'object') {
        return { ...body, status: body.status ?? response.status, code: body.code ?? `HTTP_${response.status}` }
      }
    } catch {
      // fall through: a proxy's HTML page is not a problem document
    }
  }
  return { status: response.status, code: `HTTP_${response.status}`, title: response.statusText }
}

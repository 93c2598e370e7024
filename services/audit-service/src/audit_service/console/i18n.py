"""The console's words in English and Chinese; the page's language is the user's choice (`?lang=`,
kept in a cookie), else the browser's (Accept-Language), else English."""

from __future__ import annotations

from fastapi import Request

LANGUAGES = ("en", "zh")
COOKIE = "dcp_console_lang"

WORDS: dict[str, dict[str, str]] = {
    "title": {"en": "Compliance console", "zh": "合规控制台"},
    "skip": {"en": "Skip to the content", "zh": "跳到正文"},
    "entries": {"en": "Trail entries", "zh": "审计记录"},
    "verify": {"en": "Verification", "zh": "完整性验证"},
    "sign_in": {"en": "Sign in", "zh": "登录"},
    "sign_out": {"en": "Sign out", "zh": "退出"},
    "role": {"en": "Role", "zh": "角色"},
    "user": {"en": "User", "zh": "用户"},
    "dev_login": {
        "en": "Development sign-in: a token is minted for the role you choose (dev only).",
        "zh": "开发环境登录：为所选角色签发令牌（仅限开发环境）。",  # noqa: RUF001
    },
    "case": {"en": "Case", "zh": "案件"},
    "actor": {"en": "Actor", "zh": "操作人"},
    "type": {"en": "Event type", "zh": "事件类型"},
    "from": {"en": "From", "zh": "开始"},
    "to": {"en": "To", "zh": "结束"},
    "search": {"en": "Search", "zh": "查询"},
    "time": {"en": "Time", "zh": "时间"},
    "what": {"en": "What happened", "zh": "事件"},
    "next_page": {"en": "Next page", "zh": "下一页"},
    "none": {"en": "Nothing found.", "zh": "没有记录。"},
    "trail_of": {"en": "Trail of case", "zh": "案件审计轨迹"},
    "allowed": {"en": "allowed", "zh": "允许"},
    "refused": {"en": "refused", "zh": "拒绝"},
    "rule": {"en": "Rule", "zh": "规则"},
    "citation": {"en": "Citation", "zh": "法规依据"},
    "passed": {"en": "Verification passed", "zh": "验证通过"},
    "failed": {"en": "Verification FAILED", "zh": "验证失败"},
    "chains": {"en": "chains", "zh": "条链"},
    "checkpoint": {"en": "Newest signed checkpoint", "zh": "最新签名检查点"},
    "age": {"en": "age", "zh": "距今"},
    "completeness": {"en": "Completeness against Kafka", "zh": "与 Kafka 的完整性比对"},
    "problems": {"en": "Problems", "zh": "问题"},
    "forbidden": {
        "en": "Your role may not see this page.",
        "zh": "您的角色无权查看此页面。",
    },
    "signed_in_as": {"en": "Signed in as", "zh": "当前用户"},
    "language": {"en": "中文", "zh": "English"},
    "proof": {"en": "Inclusion proof", "zh": "包含证明"},
    "findings": {"en": "Findings", "zh": "合规发现"},
    "entry_count": {"en": "entries", "zh": "条记录"},
    "compared": {"en": "compared", "zh": "已比对"},
    "not_compared": {"en": "not compared", "zh": "未比对"},
    "tree_size": {"en": "tree size", "zh": "树大小"},
    "checked": {"en": "contacts checked again", "zh": "次联系已复核"},
    "evidence": {"en": "Entries that prove it", "zh": "证据记录"},
    "export": {"en": "Export", "zh": "导出"},
}


def language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(COOKIE)
    if kept in LANGUAGES:
        return kept
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def words(lang: str) -> dict[str, str]:
    return {key: texts.get(lang, texts["en"]) for key, texts in WORDS.items()}

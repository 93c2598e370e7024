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
    "signed_out": {"en": "Signed out", "zh": "已退出"},
    "signed_out_note": {
        "en": "You are signed out of the console. Sign in again from the menu.",
        "zh": "您已退出控制台。可从菜单重新登录。",
    },
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
    "supervision": {"en": "Supervision", "zh": "管理看板"},
    "chain_status": {"en": "Each hash chain (a topic's partition)", "zh": "各哈希链（主题分区）"},  # noqa: RUF001
    "chain": {"en": "Chain", "zh": "哈希链"},
    "head_hash": {"en": "Head hash", "zh": "链头哈希"},
    "broken_at": {"en": "broken at entry", "zh": "断裂于记录"},
    "unsigned": {"en": "entries not yet under a checkpoint", "zh": "条记录尚未纳入检查点"},
    "bad_date": {"en": "is not a date (YYYY-MM-DD)", "zh": "不是有效日期（YYYY-MM-DD）"},  # noqa: RUF001
    "portfolio": {"en": "Portfolio", "zh": "资产组合"},
    "collectors": {"en": "Collectors", "zh": "催收员"},
    "strategies": {"en": "Strategies", "zh": "策略"},
    "refusals": {"en": "Gate refusals", "zh": "合规拦截"},
    "period": {"en": "Period", "zh": "期间"},
    "show": {"en": "Show", "zh": "显示"},
    "period_default": {"en": "the 30 days to now", "zh": "截至现在的 30 天"},
    "since_first_enrolment": {"en": "since each experiment's first enrolment", "zh": "自各实验首次入组起"},
    "bucket": {"en": "Bucket", "zh": "逾期区间"},
    "stage": {"en": "Stage", "zh": "阶段"},
    "currency": {"en": "Currency", "zh": "币种"},
    "cases": {"en": "Cases", "zh": "案件数"},
    "balance": {"en": "Balance", "zh": "余额"},
    "placed": {"en": "Placed", "zh": "委案金额"},
    "recovered": {"en": "Recovered", "zh": "已回收"},
    "recovered_in_period": {"en": "Recovered in the period", "zh": "本期回收"},
    "recovery_rate": {"en": "Recovery rate", "zh": "回收率"},
    "open_cases": {"en": "Open cases", "zh": "在催案件"},
    "balance_by_currency": {"en": "Open balance per currency", "zh": "各币种在催余额"},
    "roll_rates": {"en": "Roll rates", "zh": "迁徙率"},
    "roll_note": {
        "en": "Of the cases in a bucket at the start of the period, the share in each bucket at its end.",
        "zh": "期初处于某逾期区间的案件在期末所处区间的占比。",
    },
    "from_bucket": {"en": "At the start", "zh": "期初"},
    "to_bucket": {"en": "At the end", "zh": "期末"},
    "cure_rate": {"en": "Cure rate", "zh": "治愈率"},
    "cure_note": {
        "en": "past-due cases at the start of the period became current during it",
        "zh": "件期初逾期案件在本期内恢复正常",
    },
    "of": {"en": "of", "zh": "/"},
    "collector": {"en": "Collector", "zh": "催收员"},
    "attempts": {"en": "Attempts", "zh": "联系次数"},
    "rpc": {"en": "Right-party contacts", "zh": "本人接通"},
    "rpc_rate": {"en": "Right-party-contact rate", "zh": "本人接通率"},
    "promises": {"en": "Promises", "zh": "承诺还款"},
    "promise_rate": {"en": "Promise rate", "zh": "承诺率"},
    "kept": {"en": "Kept", "zh": "已履约"},
    "broken": {"en": "Broken", "zh": "已违约"},
    "kept_rate": {"en": "Promise-kept rate", "zh": "履约率"},
    "strategy": {"en": "Strategy (experiment: arm)", "zh": "策略（实验：分组）"},  # noqa: RUF001
    "experiments": {"en": "Experiments", "zh": "实验"},
    "experiment": {"en": "Experiment", "zh": "实验"},
    "arm": {"en": "Arm", "zh": "分组"},
    "status": {"en": "Status", "zh": "状态"},
    "champion": {"en": "champion", "zh": "冠军组"},
    "interval": {"en": "95% interval", "zh": "95% 置信区间"},
    "cure": {"en": "Cure", "zh": "治愈"},
    "challenger": {"en": "Challenger", "zh": "挑战组"},
    "measure": {"en": "Measure", "zh": "指标"},
    "difference": {"en": "Difference", "zh": "差值"},
    "verdict": {"en": "Verdict", "zh": "结论"},
    "guards": {"en": "Harm guards", "zh": "损害防护"},
    "guard": {"en": "Guard", "zh": "防护指标"},
    "max_increase": {"en": "Allowed increase", "zh": "允许增幅"},
    "running": {"en": "running", "zh": "运行中"},
    "stopped": {"en": "stopped", "zh": "已停止"},
    "breached": {"en": "breached", "zh": "已触发"},
    "ok": {"en": "ok", "zh": "正常"},
    "day": {"en": "Day", "zh": "日期"},
    "total": {"en": "Total", "zh": "合计"},
    "channel": {"en": "Channel", "zh": "渠道"},
    "other_rules": {"en": "other rules", "zh": "其他规则"},
    "chart_cases_by_bucket": {"en": "Open cases by bucket and stage", "zh": "按逾期区间和阶段的在催案件"},
    "chart_recovery": {"en": "Recovery rate per currency", "zh": "各币种回收率"},
    "chart_roll": {"en": "Where each bucket rolled to", "zh": "各逾期区间的迁徙去向"},
    "chart_collectors": {"en": "Contact quality per collector", "zh": "各催收员的联系质量"},
    "chart_strategies": {"en": "Recovery rate per strategy and arm", "zh": "各策略与分组的回收率"},
    "chart_refusals": {"en": "Gate refusals per day by rule", "zh": "按规则的每日合规拦截"},
    "unavailable": {"en": "Not available", "zh": "暂不可用"},
    "kpi_source": {"en": "Figures from", "zh": "数据来源"},
}


# The platform's own terms as they appear in the figures (stages, buckets, how a case closed, channels).
# Chinese punctuation is full width (U+FF1A, the colon).
TERMS: dict[str, dict[str, str]] = {
    "early": {"zh": "早期"},
    "late": {"zh": "晚期"},
    "legal": {"zh": "法律"},
    "written_off": {"en": "written off", "zh": "核销"},
    "current": {"zh": "未逾期"},
    "closed:paid_in_full": {"en": "closed: paid in full", "zh": "结案\uff1a全额还清"},
    "closed:settled": {"en": "closed: settled", "zh": "结案\uff1a和解"},
    "closed:written_off": {"en": "closed: written off", "zh": "结案\uff1a核销"},
    "closed:recalled": {"en": "closed: recalled", "zh": "结案\uff1a撤案"},
    "phone": {"zh": "电话"},
    "sms": {"en": "SMS", "zh": "短信"},
    "email": {"en": "e-mail", "zh": "电子邮件"},
    "letter": {"zh": "信函"},
    "field_visit": {"en": "field visit", "zh": "外访"},
    "better": {"zh": "更优"},
    "worse": {"zh": "更差"},
    "no_difference_yet": {"en": "no difference yet", "zh": "尚无显著差异"},
    "too_few_cases": {"en": "too few cases", "zh": "样本不足"},
    "complaints": {"zh": "投诉"},
    "disputes": {"zh": "争议"},
    "holds": {"zh": "暂停"},
    "gate_refusals": {"en": "gate refusals", "zh": "合规拦截"},
    "vulnerable_harm": {"en": "harm to vulnerable customers", "zh": "对弱势客户的损害"},
}


def term(lang: str, value: object) -> str:
    """A term of the platform in the page's language (unknown terms as they are)."""
    text = str(value)
    return TERMS.get(text, {}).get(lang, text)


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

#!/usr/bin/env python3
"""Static checks on a generated PowerShell script (the Windows bundle's
import.ps1), for a machine without PowerShell: Debian 12 ships neither pwsh
nor PSScriptAnalyzer. A small tokenizer (comments, '...', "...", here-strings)
feeds rules that are either PSScriptAnalyzer rules, named as in its rule
documentation (github.com/PowerShell/PSScriptAnalyzer, docs/Rules/), or
defects found in earlier versions of the script, named after the defect.

Usage: ps1check.py FILE RULE...   (or 'all'). Prints one line per violation,
"RULE: message", and exits 1 when there was any; 'list' prints the rules.
"""
import re
import sys


def tokenize(src):
    """Splits src into (kind, text, line) with kind in code, comment, string.
    Raises ValueError on an unterminated string or block comment."""
    out, i, line, n = [], 0, 1, len(src)
    code = []

    def flush():
        if code:
            out.append(("code", "".join(code), line))
            code.clear()

    while i < n:
        c = src[i]
        if src.startswith("<#", i):
            j = src.find("#>", i + 2)
            if j < 0:
                raise ValueError(f"line {line}: unterminated <# block comment")
            flush()
            out.append(("comment", src[i:j + 2], line))
            line += src.count("\n", i, j + 2)
            i = j + 2
        elif c == "#":
            j = src.find("\n", i)
            j = n if j < 0 else j
            flush()
            out.append(("comment", src[i:j], line))
            i = j
        elif src.startswith("@'", i) or src.startswith('@"', i):
            q = src[i + 1]
            j = src.find("\n" + q + "@", i)
            if j < 0:
                raise ValueError(f"line {line}: unterminated here-string")
            flush()
            out.append(("string", src[i:j + 3], line))
            line += src.count("\n", i, j + 3)
            i = j + 3
        elif c in "'\"\u2018\u2019\u201c\u201d":
            dq = c in "\"\u201c\u201d"
            j = i + 1
            while True:
                if j >= n:
                    raise ValueError(f"line {line}: unterminated {'double' if dq else 'single'}-quoted string")
                if dq and src[j] == "`":
                    j += 2
                    continue
                if (src[j] == '"' if dq else src[j] == "'"):
                    if j + 1 < n and src[j + 1] == src[j]:  # '' or "" escapes
                        j += 2
                        continue
                    break
                j += 1
            flush()
            out.append(("string", src[i:j + 1], line))
            line += src.count("\n", i, j + 1)
            i = j + 1
        else:
            if c == "\n":
                code.append(c)
                flush()
                line += 1
            else:
                code.append(c)
            i += 1
    flush()
    return out


def code_only(tokens):
    """The script with comments removed and every string replaced by S."""
    return "".join("S" if k == "string" else t if k == "code" else "" for k, t, _ in tokens)


def logical_lines(tokens):
    """(line number, text) of each line with comments dropped, strings kept."""
    lines, cur, start = [], [], 1
    for k, t, ln in tokens:
        if k == "comment":
            continue
        if not cur:
            start = ln
        cur.append(t)
        if k == "code" and t.endswith("\n"):
            lines.append((start, "".join(cur)))
            cur = []
    if cur:
        lines.append((start, "".join(cur)))
    return lines


# Aliases of PowerShell 5.1 (Get-Alias on Windows Server 2019) that could
# appear at a command position. 'foreach' and 'where' are aliases only after a
# pipe (else they are the foreach statement / a bare word).
ALIASES = set("""ac asnp cat cd chdir clc clear clhy cli clp cls clv cnsn compare copy cp cpi cpp
curl cvpa dbp del diff dir dnsn ebp echo epal epcsv epsn erase etsn exsn fc fhx fl ft fw gal gbp
gc gcb gci gcm gcs gdr ghy gi gin gjb gl gm gmo gp gps gpv group gsn gsnp gsv gtz gu gv gwmi h
history icm iex ihy ii ipal ipcsv ipmo ipsn irm ise iwmi iwr kill lp ls man md measure mi mount
move mp mv nal ndr ni nmo npssc nsn nv ogv oh popd ps pushd pwd r rbp rcjb rcsn rd rdr ren ri rjb
rm rmdir rmo rni rnp rp rsn rsnp rujb rv rvpa rwmi sajb sal saps sasv sbp sc scb select set shcm
si sl sleep sls sort sp spjb spps spsv start stz sujb sv swmi tee trcm type wget where wjb write
% ?""".split())
PIPE_ONLY = {"foreach", "where", "%", "?"}


def rule_balanced(src, tokens, ps):
    """Parse errors PowerShell would report: unbalanced (), {}, []."""
    stack, pairs = [], {")": "(", "}": "{", "]": "["}
    line = 1
    for k, t, ln in tokens:
        if k != "code":
            continue
        line = ln
        for ch in t:
            if ch in "({[":
                stack.append((ch, line))
            elif ch in ")}]":
                if not stack or stack[-1][0] != pairs[ch]:
                    yield f"line {line}: unbalanced '{ch}'"
                    return
                stack.pop()
            if ch == "\n":
                line += 1
    for ch, ln in stack:
        yield f"line {ln}: '{ch}' never closed"


def rule_line_ends(src, tokens, ps):
    """One line-end convention: CRLF throughout (a .ps1 for Windows) or LF."""
    crlf = src.count("\r\n")
    lf = src.count("\n")
    if crlf and crlf != lf:
        yield f"{crlf} CRLF and {lf - crlf} bare LF line ends"
    if "\r" in src.replace("\r\n", ""):
        yield "bare CR in the file"


def rule_registry_force(src, tokens, ps):
    """IKEv2 settings wiped: New-Item -Force on an existing registry key
    deletes it with all its values and creates an empty one (PowerShell's
    registry provider). A key is created only when Test-Path says it is
    missing, without -Force; values are then set one by one."""
    body = code_only(tokens)
    for ln, text in logical_lines(tokens):
        if re.search(r"(?i)\bNew-Item\b", text) and re.search(r"(?i)-Force\b", text):
            yield f"line {ln}: New-Item ... -Force: {text.strip()}"
    guard = re.compile(r"(?i)if\s*\(\s*-not\s*\(\s*Test-Path\b[^{}]*\)\s*\)\s*\{\s*(\$null\s*=\s*)?$")
    for m in re.finditer(r"(?i)\bNew-Item\b", body):
        if not guard.search(body[:m.start()]):
            yield "a New-Item not directly inside 'if (-not (Test-Path ...)) {'"


def rule_password_params(src, tokens, ps):
    """PSAvoidUsingPlainTextForPassword (Password, Pass, Passwords, Passphrase,
    Passphrases, PasswordParam must be [SecureString]); stricter here: any
    parameter whose name holds 'Password' or 'Passphrase' is [SecureString]
    unless it names a file (ends in 'File'). And the three ways in: a
    [SecureString]$PfxPassword, a [string]$PfxPasswordFile and the prompt."""
    p = param_block(tokens)
    if p is None:
        yield "no param() block"
        return
    for typ, name in re.findall(r"\[([A-Za-z.\[\]]+)\]\s*\$(\w+)", p):
        low = name.lower()
        if ("password" in low or "passphrase" in low or low == "pass") and not low.endswith("file"):
            if typ.lower() not in ("securestring", "system.security.securestring", "pscredential",
                                   "system.management.automation.pscredential"):
                yield f"parameter ${name} is [{typ}], not [SecureString]"
    for want in (r"\[SecureString\]\s*\$PfxPassword\b", r"\[string\]\s*\$PfxPasswordFile\b"):
        if not re.search(want, p, re.I):
            yield f"param() lacks {want.replace(chr(92), '')}"
    if not re.search(r"(?i)Read-Host\b[^\n]*-AsSecureString", code_only(tokens) + src):
        yield "no prompt fallback (Read-Host -AsSecureString)"


def rule_store_param(src, tokens, ps):
    """Always On VPN user tunnels need the user's store: a -Store parameter
    limited to LocalMachine and CurrentUser (ValidateSet), used in every
    -CertStoreLocation, none of them hard-coded."""
    p = param_block(tokens)
    if p is None or not re.search(r"(?i)\[ValidateSet\(\s*S\s*,\s*S\s*\)\]\s*(\[string\]\s*)?\$Store\b", code_only_param(tokens)):
        yield "no [ValidateSet('LocalMachine','CurrentUser')]$Store parameter"
    elif not re.search(r"ValidateSet\(\s*'LocalMachine'\s*,\s*'CurrentUser'\s*\)", p):
        yield "the ValidateSet of $Store is not ('LocalMachine', 'CurrentUser')"
    for ln, text in logical_lines(tokens):
        if re.search(r"(?i)-CertStoreLocation\s+Cert:\\(LocalMachine|CurrentUser)", text):
            yield f"line {ln}: store hard-coded instead of $Store: {text.strip()}"


def rule_out_null(src, tokens, ps):
    """No thumbprint shown: results of Import-Certificate and
    Import-PfxCertificate piped to Out-Null (or assigned to $null / [void])."""
    for ln, text in logical_lines(tokens):
        if re.search(r"(?i)\bImport-(Pfx)?Certificate\b", text) and \
           re.search(r"(?i)\|\s*Out-Null\b|\$null\s*=|\[void\]|>\s*\$null", text):
            yield f"line {ln}: import result discarded: {text.strip()}"


def rule_thumbprint_output(src, tokens, ps):
    """Each imported certificate's thumbprint and store, on the output stream
    (Write-Output: Write-Host is not captured by Intune/SCCM/Invoke-Command
    before PowerShell 5, and PSAvoidUsingWriteHost)."""
    body = code_only(tokens)
    if not re.search(r"(?i)\bWrite-Output\b[^\n]*\.Thumbprint\b", body):
        yield "no Write-Output of .Thumbprint"
    if not re.search(r"(?i)\bWrite-Output\b[^\n]*\$(Store|storePath|location|target)\w*", body):
        yield "no Write-Output of the store a certificate went to"
    if re.search(r"(?i)\bWrite-Host\b", body):
        yield "Write-Host used (PSAvoidUsingWriteHost)"


def rule_invoke_expression(src, tokens, ps):
    """PSAvoidUsingInvokeExpression."""
    if re.search(r"(?i)\b(Invoke-Expression|iex)\b", code_only(tokens)):
        yield "Invoke-Expression (or iex) used"


def rule_aliases(src, tokens, ps):
    """PSAvoidUsingCmdletAliases: full cmdlet names only."""
    body = code_only(tokens)
    for ln, text in enumerate(body.split("\n"), 1):
        for m in re.finditer(r"(^|[|;{(=]|\bthen\b)\s*([A-Za-z%?][\w-]*|[%?])(?=\s|$|\()", text):
            w = m.group(2).lower()
            if w in ALIASES and (w not in PIPE_ONLY or m.group(1) == "|"):
                yield f"code line {ln}: alias '{m.group(2)}'"


def rule_admin(src, tokens, ps):
    """#Requires -RunAsAdministrator refuses a user-store import (-Store
    CurrentUser) that needs no elevation: the elevation check is a runtime
    one, tied to LocalMachine (or the RRAS switch)."""
    if re.search(r"(?im)^\s*#Requires\s+-RunAsAdministrator", src):
        yield "#Requires -RunAsAdministrator applies to -Store CurrentUser too"
    body = code_only(tokens)
    if not re.search(r"(?i)WindowsBuiltInRole\]::Administrator", src):
        yield "no runtime administrator check"
    elif not re.search(r"(?i)\$Store\s+-eq\s+S", body):
        yield "the administrator check does not depend on $Store"


def rule_plaintext_securestring(src, tokens, ps):
    """PSAvoidUsingConvertToSecureStringWithPlainText."""
    if re.search(r"(?i)ConvertTo-SecureString\b[^\n]*-AsPlainText", code_only(tokens)):
        yield "ConvertTo-SecureString -AsPlainText"


def rule_unattended(src, tokens, ps):
    """Intune, SCCM and Invoke-Command have no console: without a password
    parameter the script must say so instead of blocking in Read-Host."""
    if not re.search(r"(?i)\[Environment\]::UserInteractive", src):
        yield "Read-Host not guarded by [Environment]::UserInteractive"


def rule_registry_key_kept(src, tokens, ps):
    """No Remove-Item / Clear-Item on the registry: only the one value is set."""
    for ln, text in logical_lines(tokens):
        if re.search(r"(?i)\b(Remove-Item|Clear-Item|Remove-ItemProperty)\b", text):
            yield f"line {ln}: {text.strip()}"


def rule_positional(src, tokens, ps):
    """PSAvoidUsingPositionalParameters, for the path cmdlets the script uses:
    Join-Path and Split-Path with named parameters only."""
    for ln, text in logical_lines(tokens):
        for m in re.finditer(r"(?i)\b(Join-Path|Split-Path)\s+([^-\s)][^\s)]*)", text):
            yield f"line {ln}: {m.group(1)} with a positional argument '{m.group(2)}'"


def rule_bom(src, tokens, ps):
    """PSUseBOMForUnicodeEncodedFile: Windows PowerShell 5.1 reads a .ps1
    without BOM as the ANSI code page, so a script without BOM is ASCII."""
    if any(ord(ch) > 127 for ch in src) and not src.startswith("\ufeff"):
        yield "non-ASCII characters without a BOM"


def param_block(tokens):
    """Text (strings kept) of the script-level param( ... ) block."""
    src = "".join(t for k, t, _ in tokens if k != "comment")
    m = re.search(r"(?i)\bparam\s*\(", src)
    if not m:
        return None
    depth, i = 0, m.end() - 1
    while i < len(src):
        if src[i] == "(":
            depth += 1
        elif src[i] == ")":
            depth -= 1
            if depth == 0:
                return src[m.start():i + 1]
        i += 1
    return None


def code_only_param(tokens):
    body = code_only(tokens)
    m = re.search(r"(?i)\bparam\s*\(", body)
    return body[m.start():] if m else ""


RULES = {
    "balanced": rule_balanced,
    "line-ends": rule_line_ends,
    "registry-no-force": rule_registry_force,
    "registry-key-kept": rule_registry_key_kept,
    "PSAvoidUsingPlainTextForPassword": rule_password_params,
    "store-param": rule_store_param,
    "no-out-null-imports": rule_out_null,
    "thumbprint-output": rule_thumbprint_output,
    "PSAvoidUsingInvokeExpression": rule_invoke_expression,
    "PSAvoidUsingCmdletAliases": rule_aliases,
    "PSAvoidUsingConvertToSecureStringWithPlainText": rule_plaintext_securestring,
    "admin-check": rule_admin,
    "PSAvoidUsingPositionalParameters": rule_positional,
    "PSUseBOMForUnicodeEncodedFile": rule_bom,
    "unattended": rule_unattended,
}


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "list":
        for name in RULES:
            print(name)
        return 0
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    raw = open(sys.argv[1], "rb").read()
    src = raw.decode("utf-8")
    try:
        tokens = tokenize(src.lstrip("\ufeff").replace("\r\n", "\n"))
    except ValueError as e:
        print(f"tokenize: {e}")
        return 1
    names = list(RULES) if sys.argv[2:] == ["all"] else sys.argv[2:]
    bad = 0
    for name in names:
        for msg in RULES[name](src if name == "line-ends" else src.replace("\r\n", "\n"), tokens, None):
            print(f"{name}: {msg}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# t4006-windows-import-script: the Windows bundle's import.ps1 can be run
# unattended (Intune, SCCM, Invoke-Command) and never destroys settings:
#   - the RRAS IKEv2 key is created only when missing: `New-Item -Force` on an
#     existing registry key deletes it with every value in it (PowerShell's
#     registry provider), wiping the admin's other IKEv2 settings;
#   - the PFX password comes from -PfxPassword (SecureString), -PfxPasswordFile
#     or the prompt, and no console means an error, not a hang;
#   - every imported certificate's thumbprint and store is printed;
#   - -Store CurrentUser puts the certificate in the user's store (Always On
#     VPN user tunnel), LocalMachine stays the default.
# Debian 12 has no PowerShell and no PSScriptAnalyzer, so tests/ps1check.py
# checks the script against rules written down there, each named after the
# PSScriptAnalyzer rule (PSAvoidUsingCmdletAliases, ...) or the defect.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-life.sh"

command -v python3 >/dev/null || skip_all "python3 missing"
PS1CHECK="python3 $TOP/tests/ps1check.py"

life_lab "$T/lab" || { finish; exit 1; }
cd "$T" || exit 1
printf 'a long enough pfx password\n' >pw

expect_rc 0 "export gw --format windows" "$PKILAB" --pki "$PKI" export gw --format windows --out win --password-file pw
check "import.ps1 written" [ -s win/import.ps1 ]

# --- the checker can fail: each rule on a script that breaks it
printf '%s\n' 'if ($a) { $b = (1 + 2 }' >bad-balance.ps1
printf '%s\n' "\$k = 'HKLM:\\SOFTWARE\\x'" 'New-Item -Path $k -Force | Out-Null' >bad-force.ps1
printf '%s\n' 'gci . | % { $_.Name }' 'ls' >bad-alias.ps1
printf '%s\n' 'param([string]$Password)' 'Import-PfxCertificate -FilePath a.pfx -CertStoreLocation Cert:\LocalMachine\My -Password $p | Out-Null' >bad-params.ps1
printf '%s\n' "\$s = 'unterminated" >bad-quote.ps1
printf 'a\r\nb\nc\r\n' >bad-crlf.ps1
printf '%s\n' "\$p = Join-Path \$here 'a.cer'" >bad-positional.ps1
printf '# Stra\303\237e\n' >bad-bom.ps1
for r in "balanced:bad-balance" "registry-no-force:bad-force" "PSAvoidUsingCmdletAliases:bad-alias" \
         "PSAvoidUsingPlainTextForPassword:bad-params" "no-out-null-imports:bad-params" \
         "store-param:bad-params" "balanced:bad-quote" "line-ends:bad-crlf" \
         "PSAvoidUsingPositionalParameters:bad-positional" "PSUseBOMForUnicodeEncodedFile:bad-bom"; do
  run $PS1CHECK "${r#*:}.ps1" "${r%%:*}"
  check "ps1check: rule ${r%%:*} rejects ${r#*:}.ps1 ($OUT)" [ "$RC" = 1 ]
done
printf '%s\n' '$k = "a"' "if (-not (Test-Path -LiteralPath \$k)) {" '    $null = New-Item -Path $k' '}' >good-guard.ps1
expect_rc 0 "ps1check: a New-Item guarded by Test-Path, without -Force, passes" $PS1CHECK good-guard.ps1 registry-no-force

# --- the generated script against every rule
for rule in $($PS1CHECK list); do
  run $PS1CHECK win/import.ps1 "$rule"
  check "import.ps1: $rule${OUT:+ ($(printf '%s' "$OUT" | head -n 3 | tr '\n' ';'))}" [ "$RC" = 0 ]
done

ps=$(tr -d '\r' <win/import.ps1)
# The RRAS value is set inside the -StrongCrlCheck block, after the key exists.
check "CertAuthFlags = 4 is set with Set-ItemProperty or New-ItemProperty (DWord)" \
  sh -c 'printf "%s\n" "$1" | grep -Eq "(Set|New)-ItemProperty .*CertAuthFlags .*(-PropertyType|-Type) DWord -Value 4"' _ "$ps"
check "the key is created only when missing (Test-Path, then New-Item)" \
  sh -c 'printf "%s\n" "$1" | grep -A1 "if (-not (Test-Path -LiteralPath \$key))" | grep -q "New-Item -Path \$key"' _ "$ps"
check "the default store is LocalMachine" contains "$ps" "[string]\$Store = 'LocalMachine'"
check "the PFX goes to Cert:\\<Store>\\My" contains "$ps" 'Cert:\$Store\My'
check "the password file's first line is the password (as pkilab's --password-file)" contains "$ps" "Get-Content -LiteralPath \$PfxPasswordFile -TotalCount 1"
check "no password is written into the script" not_contains "$ps" "a long enough pfx password"
check "README.txt tells how to run it unattended and for a user tunnel" \
  sh -c 'grep -q -- "-PfxPasswordFile" win/README.txt && grep -q -- "-Store CurrentUser" win/README.txt'
check "README.txt tells how to flush the CRL cache after a revocation" \
  sh -c 'grep -q "certutil -urlcache CRL delete" win/README.txt && grep -q "ChainCacheResyncFiletime @now" win/README.txt'
if command -v pwsh >/dev/null 2>&1; then
  check "import.ps1 parses in PowerShell" pwsh -NoProfile -Command "\$null = [System.Management.Automation.Language.Parser]::ParseFile('$T/win/import.ps1', [ref]\$null, [ref]\$e); if (\$e) { exit 1 }"
fi
finish

#!/usr/bin/env bash
# Mutation testing with Stryker.NET (a local dotnet tool, see dotnet-tools.json) of the rules that matter most:
# Webhooks.Core's delivery lifecycle and rules, against Webhooks.Core.Tests, and the receiver SDK (verification,
# replay, status codes), against the SDK tests that need no Postgres or Redis. Prints one line per project,
# "mutation score <Project>: NN.N%"; the reports and the list of surviving mutants are in artifacts/mutation/.
# Takes a few minutes on two cores; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/artifacts/mutation"
mkdir -p "$out"
dotnet tool restore >/dev/null

# DeliveryLifecycle's SQL text (from its "---- SQL:" marker to the end of the file) is run against Postgres by the worker
# and API tests; unit tests cannot tell its mutants apart, so it is left out. Stryker takes a span of characters.
lifecycle=Webhooks.Core/Delivery/DeliveryLifecycle.cs
sql_span=$(python3 - "$lifecycle" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8-sig").read()
print(f"{text.index('// ---- SQL:')}..{len(text)}")
PY
)

mutate() {
  local project=$1 tests=$2 config=$3
  shift 3
  rm -rf "${out:?}/$project"
  if ! (cd "$tests" && dotnet stryker --config-file "$root/eng/stryker/$config" --output "$out/$project" "$@") > "$out/$project.log" 2>&1; then
    echo "mutation: Stryker failed for $project; see $out/$project.log" >&2
    return 1
  fi
  python3 eng/mutation-report.py "$out/$project/reports/mutation-report.json" "$project" --survivors > "$out/$project.survivors.txt"
  tail -n 1 "$out/$project.survivors.txt"
}

mutate Webhooks.Core tests/Webhooks.Core.Tests core.json \
  --mutate "**/Delivery/DeliveryLifecycle.cs" --mutate "!**/Delivery/DeliveryLifecycle.cs{$sql_span}" \
  --mutate "**/Delivery/RetrySchedule.cs" --mutate "**/Delivery/WebhookEnvelope.cs" --mutate "**/Ids.cs"
mutate Webhooks.Receiver.Sdk tests/Webhooks.Receiver.Sdk.Tests sdk.json

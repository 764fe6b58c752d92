#!/usr/bin/env bash
# Rebuild the web page's static files from npm packages into api/web/static/.
# The output is committed: people who run vcsmatch need no Node.js. Run this only to
# upgrade govuk-frontend (bump its version in package.json) or change src/vcsmatch.scss.
set -euo pipefail
cd "$(dirname "$0")"
OUT=../api/web/static
npm ci --no-audit --no-fund
mkdir -p "$OUT"
npx sass --pkg-importer=node --style=compressed --no-source-map --quiet-deps \
  src/vcsmatch.scss "$OUT/vcsmatch.css"
GOVUK=node_modules/govuk-frontend/dist/govuk
sed "s@//# sourceMappingURL=.*@@" "$GOVUK/govuk-frontend.min.js" > "$OUT/govuk-frontend.min.js"
cp src/app.js "$OUT/app.js"
node -e 'console.log("govuk-frontend " + require("govuk-frontend/package.json").version)' \
  > "$OUT/VERSION.txt"
echo "built $OUT"

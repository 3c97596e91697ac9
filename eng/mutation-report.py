#!/usr/bin/env python3
"""Reads a Stryker JSON report: prints 'mutation score <Project>: NN.N%' and, with --survivors, each mutant left alive."""
import json
import sys

path, project = sys.argv[1], sys.argv[2]
report = json.load(open(path))
counted = {"Killed": 0, "Timeout": 0, "Survived": 0, "NoCoverage": 0}
alive = []
for name, file in sorted(report["files"].items()):
    for mutant in file["mutants"]:
        status = mutant["status"]
        if status in counted:
            counted[status] += 1
        if status in ("Survived", "NoCoverage"):
            start = mutant["location"]["start"]
            alive.append(f"  {status:10} {name.split('/')[-1]}:{start['line']} {mutant['mutatorName']}: {mutant.get('replacement', '')[:100]!r}")
detected = counted["Killed"] + counted["Timeout"]
total = detected + counted["Survived"] + counted["NoCoverage"]
if "--survivors" in sys.argv:
    print("\n".join(alive))
print(f"mutation score {project}: {100.0 * detected / total if total else 0:.1f}%")

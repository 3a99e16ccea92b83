-- The DriftMonitor part of its Argo CD health check: deploy/argocd/argocd-cm.yaml carries
-- _prelude.lua followed by this file (hack/gen_argocd_cm.py assembles them).

-- DriftMonitor: Healthy once accepted, drift or not. Drift is what the monitor reports, through
-- its PrometheusRule's alerts and retraining; it is not a failure of the monitor (and a Degraded
-- object would make every sync of the application look broken while the model drifts).
local s = obj.status
hs.status = "Healthy"
if s.lastRun == nil then
  hs.message = "waiting for its first evaluation"
  return hs
end
if s.drifted ~= true then
  hs.message = "no drift at " .. s.lastRun
  return hs
end
local found = {}
for _, r in ipairs(s.results or {}) do
  if r.drifted == true then
    table.insert(found, r.feature .. " " .. r.statistic .. " " .. tostring(r.value) .. " > " .. tostring(r.threshold))
  end
end
hs.message = "drift at " .. s.lastRun .. ": " .. table.concat(found, ", ")
if s.consecutiveDrifted ~= nil then
  hs.message = hs.message .. " (" .. s.consecutiveDrifted .. " evaluations in a row)"
end
return hs

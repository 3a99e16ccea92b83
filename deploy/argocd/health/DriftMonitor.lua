-- modelops.io/v1alpha1 health check for Argo CD (resource.customizations.health.modelops.io_DriftMonitor).
-- Plain Lua 5.1 with only the base and table libraries: Argo CD runs custom checks without the
-- string library unless useOpenLibs is set, and this script needs none. Argo CD passes the object
-- as `obj` and reads `status` and `message` of the table returned.
local hs = {}

local function condition(type)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function said(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local function because(c, fallback)
  return (c.reason or "Unknown") .. ": " .. said(c, fallback)
end

-- Only a status that describes the current spec says anything about it.
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "being deleted"
  return hs
end
if obj.status == nil or obj.status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the modelops operator to reconcile it"
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "waiting for the modelops operator to observe generation " .. obj.metadata.generation
  return hs
end
local accepted = condition("Accepted")
if accepted ~= nil and accepted.status == "False" then
  hs.status = "Degraded"
  hs.message = because(accepted, "the spec was not accepted")
  return hs
end
-- end of prelude

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

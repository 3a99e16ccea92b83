-- modelops.io/v1alpha1 health check for Argo CD (resource.customizations.health.modelops.io_TrainingRun).
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

-- TrainingRun: Healthy once it succeeded; Degraded when it failed, was rejected by an evaluation
-- gate, or its Pod has been unschedulable for longer than the operator's pendingTimeout;
-- Progressing while pending, running or evaluating.
local s = obj.status
local phase = s.phase
local message = s.message or phase or ""
if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = message
  return hs
end
if phase == "Rejected" or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. message
  return hs
end
local scheduled = condition("Scheduled")
if scheduled ~= nil and scheduled.status == "False" then
  hs.status = "Degraded"
  hs.message = because(scheduled, "the training Pod cannot be scheduled")
  return hs
end
if phase == nil or phase == "Pending" or phase == "Running" or phase == "Evaluating" then
  hs.status = "Progressing"
  hs.message = message
  return hs
end
hs.status = "Unknown"
hs.message = "phase " .. phase .. " is unknown to this health check; update it from the modelops release"
return hs

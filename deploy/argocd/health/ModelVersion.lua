-- modelops.io/v1alpha1 health check for Argo CD (resource.customizations.health.modelops.io_ModelVersion).
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

-- ModelVersion: Healthy when it serves (Ready) or is not meant to (serving disabled, retired);
-- Degraded when its registry record or its model server failed; Progressing while deploying.
local s = obj.status
local registered = condition("Registered")
if registered ~= nil and registered.status == "False" then
  hs.status = "Degraded"
  hs.message = because(registered, "not recorded in the registry")
  return hs
end
local ready = condition("Ready")
if s.ready == true then
  hs.status = "Healthy"
  hs.message = "serving"
  if s.role ~= nil then
    hs.message = hs.message .. " as " .. s.role
  end
  if s.url ~= nil then
    hs.message = hs.message .. " at " .. s.url
  end
  return hs
end
if ready ~= nil and (ready.reason == "ServingDisabled" or ready.reason == "Retired") then
  hs.status = "Healthy"
  hs.message = "not serving, as intended: " .. said(ready, ready.reason)
  return hs
end
if ready ~= nil and ready.reason == "ModelLoadFailed" then
  hs.status = "Degraded"
  hs.message = because(ready, "the model server failed to load the model")
  return hs
end
hs.status = "Progressing"
hs.message = said(ready, "waiting for its InferenceService")
return hs

-- modelops.io/v1alpha1 health check for Argo CD (resource.customizations.health.modelops.io_<Kind>).
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

local function judged(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local function because(c, fallback)
  return (c.reason or "Unknown") .. ": " .. said(c, fallback)
end

-- Only a status that describes the current spec says anything about it.
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  return judged("Progressing", "being deleted")
end
if obj.status == nil or obj.status.observedGeneration == nil then
  return judged("Progressing", "waiting for the modelops operator to reconcile it")
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration < obj.metadata.generation then
  return judged("Progressing", "waiting for the modelops operator to observe generation " .. obj.metadata.generation)
end
local accepted = condition("Accepted")
if accepted ~= nil and accepted.status == "False" then
  return judged("Degraded", because(accepted, "the spec was not accepted"))
end
-- end of prelude

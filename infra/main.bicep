// Background Operations for Azure Functions: everything it needs in one resource group.
// `azd up` deploys this (azure.yaml); so does
//   az deployment sub create -l <location> -f infra/main.bicep -p environmentName=<name> location=<location>
// No keys anywhere: the app reaches storage with a user-assigned managed identity.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name prefix for every resource (azd passes the environment name).')
param environmentName string

@minLength(1)
@description('Azure region for every resource: one that offers Flex Consumption (az functionapp list-flexconsumption-locations).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

@description('Optional: the object id of a user or group to grant the same data roles, for local debugging against the cloud account.')
param principalId string = ''

@description('Optional: the application (client) id of an Entra ID app registration. Set, it turns on App Service Authentication: every call needs an Entra ID token, and runas is the caller. Empty: function keys only.')
param entraClientId string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
// azd allows - _ . ( ) in environment names; storage account names allow none of them.
var prefix = toLower(take(replace(replace(replace(replace(replace(environmentName, '-', ''), '_', ''), '.', ''), '(', ''), ')', ''), 9))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-${prefix}-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 12)}'

// Every BGOPS_* setting of the app with its default (SPEC §8); change them here
// or in the portal after deployment. tests/deploy checks this list against the app.
// The setting that turns the samples on is left out on purpose: they stay off unless
// someone adds it by hand, where every caller may run them.
var bgopsSettings = {
  BGOPS_QUEUE_NAME: 'backgroundoperations'
  BGOPS_TABLE_NAME: 'backgroundoperations'
  BGOPS_RETRY_BASE_SECONDS: '30'
  BGOPS_RETRY_AFTER_SECONDS: '10'
  BGOPS_DEFAULT_TTL_SECONDS: '7776000'
  BGOPS_PURGE_SCHEDULE: '0 0 * * * *'
  BGOPS_ALLOW_HTTP_CALLBACKS: 'false'
  BGOPS_CALLBACK_RETRY_BASE_SECONDS: '2'
  // How long one attempt may run unless its operation declares its own limit (below the host's 30-minute
  // functionTimeout on Flex Consumption): past it, the attempt fails with 0x8004B002 and is retried.
  BGOPS_ATTEMPT_TIME_LIMIT_SECONDS: '600'
  BGOPS_LINE_RECHECK_SECONDS: '300'
  // Empty: URLs handed to callers use WEBSITE_HOSTNAME. Set it for a custom domain or a gateway.
  BGOPS_PUBLIC_BASE_URL: ''
  // Comma-separated hosts callbacks and webhooks may reach although they are not public (a private ERP).
  BGOPS_CALLBACK_ALLOWED_HOSTS: ''
  // Signs callbacks and webhooks (Standard Webhooks) when set: whsec_ + base64 of 32 random bytes.
  // A secret: set it as a Key Vault reference (@Microsoft.KeyVault(SecretUri=...)), not here.
  BGOPS_CALLBACK_SIGNING_KEY: ''
  // With Entra ID authentication on: the app role (its value in the app registration) that sees every
  // caller's operations; everyone else sees only their own.
  BGOPS_ADMIN_ROLE: 'BackgroundOperations.Admin'
  // How many event subscriptions there may be, and how long an event is kept and tried again while its
  // subscriber fails or is paused.
  BGOPS_MAX_SUBSCRIPTIONS: '100'
  BGOPS_EVENT_RETENTION_SECONDS: '86400'
  // Prefer: wait: the longest a request is held for its operation to finish (at most 220 s, below Azure's
  // 230 s front-end limit), and how often a held request reads its row when another instance runs it.
  BGOPS_MAX_WAIT_SECONDS: '60'
  BGOPS_WAIT_POLL_SECONDS: '5'
  // 'true' only with entraClientId: the API then takes no function key, sign-in alone lets callers in
  BGOPS_SIGN_IN_REPLACES_KEYS: 'false'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${prefix}-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${prefix}${resourceToken}' // at most 2 + 9 + 13 = 24 characters
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-${prefix}-${resourceToken}'
    applicationInsightsName: 'appi-${prefix}-${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${prefix}-${resourceToken}'
    location: location
    tags: tags
    // Only the site carries the service tag: azd deploys to the one resource tagged with it.
    siteTags: union(tags, { 'azd-service-name': 'api' })
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    bgopsSettings: bgopsSettings
    entraClientId: entraClientId
  }
  // The app must not start before its identity may read and write storage.
  dependsOn: [ rbac ]
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
@description('The base URL of the API: <url>/api/health answers without a key.')
output SERVICE_API_URL string = app.outputs.url

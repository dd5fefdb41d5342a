// Data roles for the app's identity, scoped to the one storage account (and App Insights).
param storageAccountName string
param applicationInsightsName string
param identityPrincipalId string
@description('Optional user or group to grant the same storage roles (local debugging).')
param userPrincipalId string = ''

// Built-in role definition ids (the same in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // deployment package, host state
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // the work and poison queues
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // the operations table
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // telemetry without a key

var storageRoles = [ storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor ]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource appStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: {
  name: guid(storage.id, identityPrincipalId, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource appTelemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: userPrincipalId
  }
}]
